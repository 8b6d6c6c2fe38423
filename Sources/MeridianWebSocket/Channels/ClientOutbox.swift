internal import NIOCore

/// What a ``ClientOutbox`` asks of the connection it writes for.
protocol ClientOutboxOwner: AnyObject {
    /// False once the protocol has finished sending (after a WebSocket close frame, or the event stream's end):
    /// what is still queued stays.
    var outboxIsOpen: Bool { get }
    /// A buffer is going to the socket now.
    func outboxWillWrite()
    /// A write completed (and what it made room for has gone out).
    func outboxWrote()
    /// A write failed: the client is gone.
    func outboxWriteFailed(_ error: any Error)
}

/// One client's outgoing side, for WebSockets and event streams alike: the pure ``OutboundQueue`` carried out on
/// the connection's writes (a completed write lets queued bytes go), with drops and overflows counted. Confined to
/// the connection's event loop.
final class ClientOutbox {
    private var queue: OutboundQueue
    private let stats: ChannelStats.Route
    private let write: (ByteBuffer) -> EventLoopFuture<Void>
    weak var owner: (any ClientOutboxOwner)?

    init(queue: OutboundQueue, stats: ChannelStats.Route, write: @escaping (ByteBuffer) -> EventLoopFuture<Void>) {
        self.queue = queue
        self.stats = stats
        self.write = write
    }

    /// Writes `bytes` now or queues them; false when the client is too slow (counted): the caller ends the
    /// connection in its protocol's way.
    func enqueue(_ bytes: ByteBuffer) -> Bool {
        switch queue.enqueue(bytes) {
        case .send(let b):
            send(b)
        case .queued:
            break
        case .droppedOldest:
            stats.dropped.wrappingIncrement(ordering: .relaxed)
        case .overflow:
            stats.closedSlow.wrappingIncrement(ordering: .relaxed)
            return false
        }
        return true
    }

    /// Nothing queued and nothing on its way to the socket.
    var isIdle: Bool { queue.queuedCount == 0 && queue.inFlight == 0 }

    var queuedCount: Int { queue.queuedCount }

    /// Whether `bytes` would be queued without dropping anything (always, into an empty queue).
    func hasRoom(for bytes: ByteBuffer) -> Bool {
        queue.queuedCount == 0
            || (queue.queuedCount < queue.maxMessages && queue.queuedBytes + bytes.readableBytes <= queue.maxBytes)
    }

    private func send(_ bytes: ByteBuffer) {
        owner?.outboxWillWrite()
        let count = bytes.readableBytes
        write(bytes).whenComplete { [self] result in
            switch result {
            case .success:
                guard owner?.outboxIsOpen == true else { return }
                for next in queue.completed(count) { send(next) }
                owner?.outboxWrote()
            case .failure(let error):
                owner?.outboxWriteFailed(error)
            }
        }
    }
}
