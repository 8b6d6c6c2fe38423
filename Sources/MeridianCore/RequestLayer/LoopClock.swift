public import NIOCore
internal import NIOPosix

#if canImport(Glibc)
internal import Glibc
#endif

/// The time as of the event loop's current batch of work, read from the system once per batch instead of at every
/// use, as nginx's `ngx_time_update` does once per event-loop iteration.
///
/// A proxied request read the clock eleven times (the request's start, the try's start, the head's send, the
/// response head, the breaker's and the balancer's outcome, the pool's idle mark, the span's end, the record's
/// duration, the connection's timeouts, the `Date` field); each read is a `clock_gettime` through the vDSO (~25 ns
/// on a KVM guest). Here the first read of each clock in a batch goes to the system and a task queued behind the
/// batch forgets it, so the next batch reads afresh. `deadline` and `instant` are the same reading
/// (``MonotonicClock`` is `NIODeadline`'s clock).
///
/// What a reading may lag by is the time the loop has spent on the batch so far (events are handled in the order
/// `epoll_wait` returned them). Deadlines computed from it fall due at most that much early (the timeouts are
/// seconds long, a batch is microseconds to a millisecond), and durations measured with it are whole batches: a
/// request's own duration counts from the batch its head arrived in, to the batch its response left in.
///
/// One per event-loop thread, confined to it (the unchecked `Sendable`): a handler keeps its loop's (``of(_:)``) and
/// reads it on the loop only. A value with no reference count: the state behind it is never freed (one small object
/// per event loop a thread ever ran: one per thread in a server, one per embedded loop in tests), so keeping and
/// reading a clock costs no retain, where a class reference cost one per read on the request path. It refers to its
/// loop unowned: it is read only on that loop, which is running then (a weak reference would give the loop a side
/// table, and its ~30 retains per request would all take the runtime's slow path).
public struct LoopClock: @unchecked Sendable {
    private let storage: Unmanaged<Storage>

    private init(_ storage: Unmanaged<Storage>) { self.storage = storage }

    private static let perThread = ThreadSpecificVariable<Storage>()

    /// The clock of `eventLoop`. Call it on `eventLoop`.
    public static func of(_ eventLoop: any EventLoop) -> LoopClock {
        eventLoop.preconditionInEventLoop()
        let id = ObjectIdentifier(eventLoop)
        if let current = perThread.currentValue, current.loopID == id {
            // Compared by address, never through the unowned reference: the loop it was made for may be gone (tests
            // run embedded loops one after another on a thread). A new loop at a dead one's address takes the clock
            // over: its reference replaced (the old one's type may differ) and the readings forgotten (the dead
            // loop's forget task may never have run).
            current.eventLoop = eventLoop
            current.forget()
            return LoopClock(.passUnretained(current))
        }
        // (A thread that ran another loop before, as a test's embedded loops do: a clock made for that one stays valid.)
        let storage = Storage(eventLoop)
        perThread.currentValue = storage
        return LoopClock(.passRetained(storage))  // (never released: see above)
    }

    /// `NIODeadline.now()` as of this batch.
    public var deadline: NIODeadline { storage._withUnsafeGuaranteedRef { $0.deadline } }

    /// `MonotonicClock.now` as of this batch.
    public var instant: MonotonicClock.Instant { storage._withUnsafeGuaranteedRef { MonotonicClock.Instant($0.deadline) } }

    /// The `Date` field's value (RFC 9110 §5.6.7) as of this batch.
    public var date: String { storage._withUnsafeGuaranteedRef { $0.date } }

    private final class Storage: @unchecked Sendable {
        /// Dereferenced only while a reading is taken, on the loop, which is running then.
        unowned(unsafe) var eventLoop: any EventLoop
        /// The loop's address, for ``LoopClock/of(_:)`` to compare without touching a loop that may be gone.
        let loopID: ObjectIdentifier
        private var deadlineValue = NIODeadline.uptimeNanoseconds(0)
        private var wallSeconds = 0
        private var haveDeadline = false
        private var haveWall = false
        private var forgetQueued = false
        /// The thread's (made on the loop, like this): one formatting a second per thread.
        private let dates = DateCache.current

        init(_ eventLoop: any EventLoop) {
            self.eventLoop = eventLoop
            self.loopID = ObjectIdentifier(eventLoop)
        }

        var deadline: NIODeadline {
            if !haveDeadline {
                deadlineValue = .now()
                haveDeadline = true
                forgetSoon()
            }
            return deadlineValue
        }

        var date: String {
            if !haveWall {
                var now = timespec()
                clock_gettime(CLOCK_REALTIME, &now)
                wallSeconds = Int(now.tv_sec)
                haveWall = true
                forgetSoon()
            }
            return dates.value(at: wallSeconds)
        }

        /// Queues, once per batch, the task that forgets the readings (it runs once the loop has handled the batch).
        private func forgetSoon() {
            guard !forgetQueued else { return }
            forgetQueued = true
            eventLoop.execute { [self] in forget() }
        }

        func forget() {
            forgetQueued = false
            haveDeadline = false
            haveWall = false
        }
    }
}
