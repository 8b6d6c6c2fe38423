internal import Logging
internal import NIOCore
internal import NIOSSL
internal import NIOTLS

/// Closes connections whose TLS handshake fails (bad SNI, plaintext on a TLS port, old protocol
/// versions), counting and logging them at debug level: they are the internet's background noise,
/// not the operator's problem.
final class TLSErrorHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    let store: TLSCertificateStore?
    let logger: Logger

    init(store: TLSCertificateStore?, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if case TLSUserEvent.handshakeCompleted = event {
            // Pass the event on first: ALPN waits for it behind us.
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError {
            store?.handshakeFailures.wrappingIncrement(ordering: .relaxed)
            logger.debug("TLS handshake failed", metadata: ["peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)"])
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }
}
