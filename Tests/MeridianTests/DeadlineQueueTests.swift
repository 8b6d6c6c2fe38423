import NIOCore
import Testing

@testable import MeridianProxy

/// The proxy's head timeouts as a pure queue: deadlines given, no clock read.
struct DeadlineQueueTests {
    final class Owner {
        let name: String
        init(_ name: String) { self.name = name }
    }

    static func at(_ ms: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(1_000_000_000 + ms * 1_000_000)) }

    @Test func expiresInOrderAndOnlyWhenDue() {
        var q = DeadlineQueue<Owner>()
        let a = Owner("a"), b = Owner("b"), c = Owner("c")
        _ = q.arm(a, at: Self.at(10))
        _ = q.arm(b, at: Self.at(20))
        _ = q.arm(c, at: Self.at(30))
        #expect(q.nextDeadline() == Self.at(10))
        #expect(q.expire(at: Self.at(9)).isEmpty)
        #expect(q.expire(at: Self.at(20)).map(\.name) == ["a", "b"])
        #expect(q.count == 1)
        #expect(q.nextDeadline() == Self.at(30))
        #expect(q.expire(at: Self.at(100)).map(\.name) == ["c"])
        #expect(q.nextDeadline() == nil)
        #expect(q.count == 0)
    }

    @Test func cancelledTimeoutsNeverFireAndStaleHandlesDoNothing() {
        var q = DeadlineQueue<Owner>()
        let a = Owner("a"), b = Owner("b")
        let ha = q.arm(a, at: Self.at(10))
        _ = q.arm(b, at: Self.at(20))
        q.cancel(ha)
        q.cancel(ha)  // twice: nothing more
        #expect(q.count == 1)
        #expect(q.nextDeadline() == Self.at(20))  // the dead front is skipped
        // a's slot is reused by c; a's old handle must not cancel c.
        let c = Owner("c")
        _ = q.arm(c, at: Self.at(25))
        q.cancel(ha)
        #expect(q.expire(at: Self.at(30)).map(\.name) == ["b", "c"])
    }

    @Test func aDeadlineBeforeTheLastIsTakenAsTheLast() {
        var q = DeadlineQueue<Owner>()
        let a = Owner("a"), b = Owner("b")
        _ = q.arm(a, at: Self.at(50))
        _ = q.arm(b, at: Self.at(40))  // a clock that went back
        #expect(q.expire(at: Self.at(45)).isEmpty)
        #expect(q.expire(at: Self.at(50)).map(\.name) == ["a", "b"])
    }

    /// Requests that finish long before their timeout leave dead entries; the queue's memory follows the live
    /// timeouts (at most 4x of them, plus 64), not the requests served.
    @Test func deadEntriesAreCompacted() {
        var q = DeadlineQueue<Owner>()
        var live: [DeadlineQueue<Owner>.Handle] = []
        for i in 0..<100_000 {
            live.append(q.arm(Owner("\(i)"), at: Self.at(60_000 + Int64(i))))
            if live.count > 10 { q.cancel(live.removeFirst()) }
            #expect(q.storedEntries <= 4 * q.count + 65)
        }
        #expect(q.count == 10)
        #expect(q.expire(at: Self.at(1_000_000)).count == 10)
    }

    @Test func ownersAreReleasedWhenCancelledOrFired() {
        var q = DeadlineQueue<Owner>()
        weak var gone: Owner?
        do {
            let a = Owner("a")
            gone = a
            let h = q.arm(a, at: Self.at(10))
            q.cancel(h)
        }
        #expect(gone == nil)
        do {
            let b = Owner("b")
            gone = b
            _ = q.arm(b, at: Self.at(10))
        }
        #expect(gone != nil)
        _ = q.expire(at: Self.at(10))
        #expect(gone == nil)
    }
}
