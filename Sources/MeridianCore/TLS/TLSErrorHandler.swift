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
    let services: ConnectionServices?
    let logger: Logger

    init(store: TLSCertificateStore?, services: ConnectionServices? = nil, logger: Logger) {
        self.store = store
        self.services = services
        self.logger = logger
    }

    /// The TLS version of the pipeline's completed handshake: `1.2`, `1.3` (or older names), or nil.
    static func negotiatedVersion(_ pipeline: ChannelPipeline) -> String? {
        guard let version = try? pipeline.syncOperations.handler(type: NIOSSLHandler.self).tlsVersion else { return nil }
        switch version {
        case .tlsv13: return "1.3"
        case .tlsv12: return "1.2"
        case .tlsv11: return "1.1"
        case .tlsv1: return "1.0"
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if case TLSUserEvent.handshakeCompleted = event {
            services?.tlsHandshakeCompleted(version: Self.negotiatedVersion(context.pipeline))
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
