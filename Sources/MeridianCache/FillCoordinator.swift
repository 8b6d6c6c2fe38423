internal import NIOConcurrencyHelpers
public import NIOCore

/// Request coalescing inside one instance: the first miss for a key goes to the origin (or to the cluster lock); the
/// misses that arrive while it is under way wait for it and then look again (Varnish's waiting list). Waiters are
/// bounded in time: past `wait` they go to the origin themselves. State changes under a lock; waking happens after.
final class FillCoordinator: Sendable {
    private struct Waiter {
        let loop: any EventLoop
        let promise: EventLoopPromise<Void>
    }

    private let fills = NIOLockedValueBox<[String: [Waiter]]>([:])

    enum Role {
        /// This request fills; it must call ``finish(_:)`` when the entry is stored or known not to be.
        case leader
        /// Another request fills; the future completes when it finished (or the wait ran out).
        case follower(EventLoopFuture<Void>)
    }

    func join(_ key: String, on loop: any EventLoop, wait: TimeAmount) -> Role {
        let promise = loop.makePromise(of: Void.self)
        let isLeader: Bool = fills.withLockedValue { fills in
            if fills[key] == nil {
                fills[key] = []
                return true
            }
            fills[key]!.append(Waiter(loop: loop, promise: promise))
            return false
        }
        if isLeader {
            promise.succeed()
            return .leader
        }
        // The timeout and the leader's wake-up both complete the promise on its loop; the first one wins.
        let timeout = loop.scheduleTask(in: wait) { promise.succeed() }
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        return .follower(promise.futureResult)
    }

    /// Leads `key` if nobody does; never waits (a background refresh either runs or is already running).
    func tryLead(_ key: String) -> Bool {
        fills.withLockedValue { fills in
            guard fills[key] == nil else { return false }
            fills[key] = []
            return true
        }
    }

    /// The leader is done: every waiter looks again.
    func finish(_ key: String) {
        let waiters = fills.withLockedValue { $0.removeValue(forKey: key) } ?? []
        for waiter in waiters {
            waiter.loop.execute { waiter.promise.succeed() }
        }
    }

    var inFlight: Int { fills.withLockedValue { $0.count } }
}
