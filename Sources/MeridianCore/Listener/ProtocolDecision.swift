internal import NIOCore
internal import NIOTLS

/// Whether a connection's protocol has been settled (ALPN or the h2c preface check), so the
/// pre-protocol deadline knows to leave it alone. Touched only on the connection's event loop.
final class ProtocolDecision: @unchecked Sendable {  // confined to one event loop (see above)
    private(set) var isDecided = false
    func decide() { isDecided = true }
}

/// For TLS listeners without ALPN: the handshake's completion settles the protocol.
final class DecisionMarker: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let decision: ProtocolDecision

    init(_ decision: ProtocolDecision) {
        self.decision = decision
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if case TLSUserEvent.handshakeCompleted = event {
            decision.decide()
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
    }
}
