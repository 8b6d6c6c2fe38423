internal import NIOCore
internal import NIOHTTP2

/// Records whether `NIOHTTP2Handler` has sent a GOAWAY with an error code: the sign of a
/// connection error (stream errors only reset their stream).
/// After the first GOAWAY it also arms a hard close: the connection manager closes a quiescing
/// connection only once the client acknowledges its PING, and a client that never does must not
/// keep the connection (open streams get the same time to finish).
final class GoawayObserver: NIOHTTP2FrameDelegate, @unchecked Sendable {  // confined to the connection's event loop
    private(set) var sentConnectionError = false
    private var armed = false
    private let grace: TimeAmount
    /// Set when the connection starts, cleared when it closes. Not weak: a weak reference gives the channel a side
    /// table, and every retain and release of it (dozens per request) then takes the Swift runtime's slow path.
    var channel: (any Channel)?

    init(grace: TimeAmount) {
        self.grace = grace
    }

    func wroteFrame(_ frame: HTTP2Frame) {
        guard case .goAway(_, let code, _) = frame.payload else { return }
        if code != .noError { sentConnectionError = true }
        guard !armed, let channel else { return }
        armed = true
        let close = channel.eventLoop.scheduleTask(in: grace) { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in close.cancel() }
    }
}

/// The last handler of an HTTP/2 connection. In frame mode `NIOHTTP2Handler` reports stream
/// errors (answered with RST_STREAM) and connection errors (answered with GOAWAY) alike through
/// `errorCaught`; only the second must end the connection, and it does so here instead of leaving
/// it open until the idle timeout.
final class CloseOnErrorHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    let goaway: GoawayObserver

    init(_ goaway: GoawayObserver) {
        self.goaway = goaway
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if goaway.sentConnectionError { context.close(promise: nil) }
    }
}
