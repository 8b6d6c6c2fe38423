import Foundation
import MeridianCore
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

/// The loop's clock: one reading per batch of work, forgotten once the batch is done; and the monotonic clock it
/// reads, whose instants are NIODeadline's.
struct LoopClockTests {
    @Test func oneReadingPerBatchThenAFreshOne() throws {
        let loop = EmbeddedEventLoop()
        let clock = LoopClock.of(loop)
        let first = clock.deadline
        usleep(2000)
        #expect(clock.deadline == first, "the batch's reading, not a new one")
        #expect(clock.instant == MonotonicClock.Instant(first), "both views are the same reading")
        let date = clock.date
        #expect(DateCache.parse(date) != nil, "an IMF-fixdate: \(date)")
        loop.run()  // the batch ends: its queued task forgets the reading
        let second = clock.deadline
        #expect(second > first, "read afresh after the batch (\(second) vs \(first))")
        #expect(second - first >= .milliseconds(2))
    }

    @Test func anotherLoopOnTheSameThreadGetsItsOwnClockAndTheFirstStaysUsable() throws {
        let a = EmbeddedEventLoop()
        let b = EmbeddedEventLoop()
        let clockA = LoopClock.of(a)
        let readA = clockA.deadline
        let clockB = LoopClock.of(b)
        usleep(1000)
        let readB = clockB.deadline
        #expect(readB > readA, "b read the system itself")
        #expect(clockA.deadline == readA, "a's batch is not over")
        a.run()
        #expect(clockA.deadline > readA)
        b.run()
    }

    /// Loops made and dropped one after another on a thread (as tests do): asking for the next loop's clock must not
    /// touch the dead one (it once dereferenced it and crashed), and a loop at a dead one's address gets a clock that
    /// reads afresh, though the dead loop's forget task never ran.
    @Test func loopsThatComeAndGoOnOneThread() throws {
        var firsts: [NIODeadline] = []
        for _ in 0..<200 {
            let loop = EmbeddedEventLoop()
            let clock = LoopClock.of(loop)
            let first = clock.deadline  // queues a forget task that this loop never runs
            firsts.append(first)
            #expect(clock.deadline == first)
        }
        let loop = EmbeddedEventLoop()
        let clock = LoopClock.of(loop)
        usleep(1000)
        #expect(clock.deadline > firsts.last!, "a fresh reading, not one a dead loop left behind")
        let reading = clock.deadline
        loop.run()
        usleep(1000)
        #expect(clock.deadline > reading)
    }

    @Test func onARealLoopTheReadingMovesBetweenBatches() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let (inBatch, later) = try loop.submit { () -> (Bool, EventLoopFuture<(NIODeadline, NIODeadline)>) in
            let clock = LoopClock.of(loop)
            let start = clock.deadline
            usleep(1000)
            let same = clock.deadline == start
            let next = loop.scheduleTask(in: .milliseconds(5)) { (start, clock.deadline) }.futureResult
            return (same, next)
        }.wait()
        #expect(inBatch)
        let (start, afterwards) = try later.wait()
        #expect(afterwards - start >= .milliseconds(5))
    }

    @Test func monotonicInstantsAreNIODeadlinesClock() {
        let deadline = NIODeadline.now()
        let instant = MonotonicClock.Instant(deadline)
        #expect(instant.offset == .nanoseconds(Int64(deadline.uptimeNanoseconds)))
        #expect(MonotonicClock.now >= instant)
        let later = instant.advanced(by: .seconds(2))
        #expect(later > instant)
        #expect(instant.duration(to: later) == .seconds(2))
        #expect(later - instant == .seconds(2))
        #expect(later - .seconds(2) == instant)
        #expect(instant + .milliseconds(1) < later)
        #expect(MonotonicClock.Instant.now >= instant)
    }
}
