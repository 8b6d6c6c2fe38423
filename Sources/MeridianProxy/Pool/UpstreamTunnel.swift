internal import MeridianCore
internal import NIOCore

/// The upstream half of an `Upgrade` tunnel: after the upstream's `101` the connection's HTTP
/// handlers are removed and this carries raw bytes between the upstream socket and the client's
/// ``UpgradedStream`` (an HTTP/1.1 connection, or an RFC 8441 stream of an HTTP/2 one) until
/// either side closes or nothing moves for the idle timeout. Backpressure both ways: the upstream
/// is not read while the client has not taken what was sent, and the client pipe is paused while
/// the upstream socket is full. Confined to the connection's event loop: its callbacks are
/// futures and tasks of that loop, which is what makes the unchecked `Sendable` safe.
final class UpstreamTunnel: ChannelDuplexHandler, UpgradedStream.Delegate, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?
    private var stream: UpgradedStream?
    /// Bytes from the upstream before the client's pipe was attached (sent with the 101).
    private var early: [ByteBuffer] = []
    private var unacknowledged = 0
    private var reading = true
    private var readPending = false
    private var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    private let idle: TimeAmount
    private var closed = false

    init(idle: TimeAmount) {
        self.idle = idle
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armIdleTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        idleTimer?.cancel()
    }

    /// The client's side is ready: what the upstream already sent goes first.
    func attach(_ stream: UpgradedStream) {
        guard !closed else {
            stream.close()
            return
        }
        self.stream = stream
        stream.delegate = self
        let pending = early
        early = []
        for bytes in pending { toClient(bytes) }
    }

    // MARK: upstream -> client

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        let bytes = unwrapInboundIn(data)
        guard stream != nil else {
            early.append(bytes)
            return
        }
        toClient(bytes)
    }

    private func toClient(_ bytes: ByteBuffer) {
        guard let stream else { return }
        let n = bytes.readableBytes
        unacknowledged += n
        if unacknowledged > 256 * 1024 { reading = false }
        stream.write(bytes).whenComplete { [self] result in
            unacknowledged -= n
            if case .failure = result {
                close()
                return
            }
            lastActivity = .now()
            if !reading, unacknowledged <= 64 * 1024 {
                reading = true
                if readPending, let context {
                    readPending = false
                    context.read()
                }
            }
        }
    }

    func read(context: ChannelHandlerContext) {
        if reading { context.read() } else { readPending = true }
    }

    // MARK: client -> upstream

    func upgradedStream(_ stream: UpgradedStream, received bytes: ByteBuffer) {
        guard let context, !closed else { return }
        lastActivity = .now()
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        if !context.channel.isWritable { stream.setReading(false) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { stream?.setReading(true) }
        context.fireChannelWritabilityChanged()
    }

    func upgradedStreamClosed(_ stream: UpgradedStream) {
        self.stream = nil
        close()
    }

    func upgradedStreamShouldClose(_ stream: UpgradedStream) {
        close()
    }

    // MARK: ends

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        idleTimer?.cancel()
        // What the upstream sent before it closed still reaches the client, then the pipe ends.
        stream?.close()
        stream = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close()
    }

    func close() {
        guard !closed else { return }
        closed = true
        idleTimer?.cancel()
        let stream = self.stream
        self.stream = nil
        stream?.close()
        context?.close(promise: nil)
    }

    private func armIdleTimer() {
        guard let context else { return }
        idleTimer = context.eventLoop.scheduleTask(deadline: lastActivity + idle) { [self] in
            guard !closed else { return }
            if NIODeadline.now() - lastActivity >= idle && unacknowledged == 0 {
                close()
            } else {
                if unacknowledged > 0 { lastActivity = .now() }
                armIdleTimer()
            }
        }
    }
}
