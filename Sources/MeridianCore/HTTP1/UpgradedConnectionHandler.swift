internal import NIOCore

/// Carries an HTTP/1.1 connection after `101 Switching Protocols`: what the client sends goes to
/// the ``UpgradedStream``'s delegate, what the delegate writes goes to the socket. Reading stops
/// while the delegate has paused it. Drain asks the protocol to close in its own way.
final class UpgradedConnectionHandler: ChannelInboundHandler, UpgradedStream.Transport {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?
    private(set) var stream: UpgradedStream?
    private let services: ConnectionServices
    private var reading = true
    private var readPending = false
    private var counted = false

    init(services: ConnectionServices) {
        self.services = services
    }

    /// Makes the stream once the handler is in the pipeline; `leftover` (bytes read after the
    /// request) is its first read.
    func start(context: ChannelHandlerContext, leftover: ByteBuffer?) -> UpgradedStream {
        let stream = UpgradedStream(eventLoop: context.eventLoop, allocator: context.channel.allocator, transport: self)
        self.stream = stream
        if let leftover, leftover.readableBytes > 0 { stream.received(leftover) }
        return stream
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        counted = true
        services.connectionUpgraded()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        uncount()
    }

    private func uncount() {
        if counted {
            counted = false
            services.upgradedConnectionClosed()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        stream?.received(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        uncount()
        stream?.ended()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:
            stream?.shouldClose()
        case let event as ChannelEvent where event == .inputClosed:
            stream?.ended()
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: - Transport

    func write(_ bytes: ByteBuffer) -> EventLoopFuture<Void> {
        guard let context else { return stream!.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        return context.writeAndFlush(wrapOutboundOut(bytes))
    }

    func close() {
        context?.close(promise: nil)
    }

    func setReading(_ on: Bool) {
        reading = on
        if on, readPending, let context {
            readPending = false
            context.read()
        }
    }
}

extension UpgradedConnectionHandler: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer

    func read(context: ChannelHandlerContext) {
        if reading { context.read() } else { readPending = true }
    }
}
