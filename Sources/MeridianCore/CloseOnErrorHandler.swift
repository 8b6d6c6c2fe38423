internal import NIOCore

/// The last handler of an HTTP/2 connection: a connection error (NIOHTTP2 has already sent GOAWAY
/// with the RFC 9113 code) ends the connection instead of leaving it open until the idle timeout.
final class CloseOnErrorHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
