internal import NIOCore

/// The head timeouts (per try, first byte) of one event loop's exchanges for one cluster: a ``DeadlineQueue``
/// per length (a cluster has at most two) and one scheduled task per queue, at its earliest deadline. Confined
/// to its event loop, like the ``ClusterLoop`` that owns it.
final class ExchangeTimeouts {
    struct Handle {
        fileprivate let queue: Int
        fileprivate let inner: DeadlineQueue<ProxyExchange>.Handle
    }

    private struct Queue {
        let length: TimeAmount
        var deadlines = DeadlineQueue<ProxyExchange>()
        /// The task that will expire this queue's front.
        var task: Scheduled<Void>?
    }

    private let eventLoop: any EventLoop
    private var queues: [Queue] = []

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Arms `exchange`'s timeout `length` from `now`: ``ProxyExchange/headTimeoutFired()`` runs then unless cancelled.
    func arm(_ exchange: ProxyExchange, after length: TimeAmount, now: NIODeadline = .now()) -> Handle {
        let i: Int
        if let found = queues.firstIndex(where: { $0.length == length }) {
            i = found
        } else {
            queues.append(Queue(length: length))
            i = queues.count - 1
        }
        let deadline = now + length
        let inner = queues[i].deadlines.arm(exchange, at: deadline)
        if queues[i].task == nil { schedule(i, at: deadline) }
        return Handle(queue: i, inner: inner)
    }

    func cancel(_ handle: Handle) {
        queues[handle.queue].deadlines.cancel(handle.inner)
    }

    private func schedule(_ i: Int, at deadline: NIODeadline) {
        queues[i].task = eventLoop.scheduleTask(deadline: deadline) { [self] in fire(i) }
    }

    private func fire(_ i: Int) {
        queues[i].task = nil
        let expired = queues[i].deadlines.expire(at: .now())
        // An exchange may arm again while it hears its timeout (a retry): that arm schedules the task if needed.
        for exchange in expired { exchange.headTimeoutFired() }
        if queues[i].task == nil, let next = queues[i].deadlines.nextDeadline() { schedule(i, at: next) }
    }
}
