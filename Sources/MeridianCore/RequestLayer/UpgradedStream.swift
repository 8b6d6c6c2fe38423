public import NIOCore

/// The byte pipe an upgrade's installer gets: the connection after an HTTP/1.1 `101`, or the
/// stream of an RFC 8441 extended CONNECT. Reads arrive at the delegate; writes complete when
/// the bytes have left (backpressure); a paused pipe stops reading the socket (HTTP/1.1) or
/// returning stream credit (HTTP/2). Confined to the event loop.
public final class UpgradedStream: @unchecked Sendable {
    /// The protocol running on the pipe.
    public protocol Delegate: AnyObject {
        /// Bytes from the client, in order.
        func upgradedStream(_ stream: UpgradedStream, received bytes: ByteBuffer)
        /// The client ended its side or went away; nothing more will arrive.
        func upgradedStreamClosed(_ stream: UpgradedStream)
        /// The server is draining: end the conversation the protocol's own way (a WebSocket
        /// close frame) and then ``UpgradedStream/close()``. The pipe is cut at the drain
        /// deadline regardless.
        func upgradedStreamShouldClose(_ stream: UpgradedStream)
    }

    /// What carries the bytes: the HTTP/1.1 connection or an HTTP/2 stream.
    protocol Transport: AnyObject {
        func write(_ bytes: ByteBuffer) -> EventLoopFuture<Void>
        func close()
        func setReading(_ on: Bool)
    }

    public let eventLoop: any EventLoop
    public let allocator: ByteBufferAllocator
    /// The protocol on this pipe, set by the installer; held strongly until the pipe closes.
    public var delegate: (any Delegate)? {
        didSet { deliverPending() }
    }
    weak var transport: (any Transport)?
    private var pending: [ByteBuffer] = []
    private var closeCallbacks: [() -> Void] = []
    private var endPending = false
    public private(set) var isClosed = false

    init(eventLoop: any EventLoop, allocator: ByteBufferAllocator, transport: any Transport) {
        self.eventLoop = eventLoop
        self.allocator = allocator
        self.transport = transport
    }

    /// Sends bytes to the client.
    public func write(_ bytes: ByteBuffer) -> EventLoopFuture<Void> {
        guard !isClosed, let transport else { return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        return transport.write(bytes)
    }

    /// Ends the pipe from this side: the HTTP/1.1 connection closes, the HTTP/2 stream ends.
    public func close() {
        guard !isClosed else { return }
        transport?.close()
    }

    /// Stops (false) or resumes (true) taking bytes from the client.
    public func setReading(_ on: Bool) { transport?.setReading(on) }

    // MARK: - Transport side

    func received(_ bytes: ByteBuffer) {
        guard !isClosed || endPending else { return }
        guard let delegate else {
            pending.append(bytes)
            return
        }
        delegate.upgradedStream(self, received: bytes)
    }

    func ended() {
        guard !isClosed else { return }
        guard delegate != nil else {
            // No protocol yet: it hears of the end when it is installed; the pipe is closed now
            // (so the gauge of open pipes does not wait for an installer that never comes).
            endPending = true
            isClosed = true
            runCloseCallbacks()
            return
        }
        isClosed = true
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upgradedStreamClosed(self)
        runCloseCallbacks()
    }

    private func runCloseCallbacks() {
        let callbacks = closeCallbacks
        closeCallbacks = []
        for callback in callbacks { callback() }
    }

    /// Runs `callback` once the pipe has closed.
    func whenClosed(_ callback: @escaping () -> Void) {
        if isClosed { callback() } else { closeCallbacks.append(callback) }
    }

    func shouldClose() {
        guard !isClosed else { return }
        if let delegate { delegate.upgradedStreamShouldClose(self) } else { close() }
    }

    private func deliverPending() {
        guard let delegate else { return }
        let bytes = pending
        pending = []
        for b in bytes { delegate.upgradedStream(self, received: b) }
        if endPending {
            endPending = false
            self.delegate = nil
            delegate.upgradedStreamClosed(self)
        }
    }
}
