public import NIOCore

/// A frame as read from the client (payload already unmasked) or to be sent.
///
/// Only RSV1 is kept: RSV2 and RSV3 have no extension that Meridian negotiates, so the parser rejects them (RFC 6455
/// §5.2), while RSV1 marks the first frame of a compressed message under permessage-deflate (RFC 7692 §6). The mask
/// is not kept either: the parser removes it (RFC 6455 §5.3) and the server never sends one (§5.1).
public struct WebSocketFrame: Sendable, Equatable {
    /// The last frame of its message (RFC 6455 §5.4); always set on a control frame.
    public var fin: Bool
    /// "Compressed" on the first frame of a permessage-deflate message (RFC 7692 §6).
    public var rsv1: Bool
    public var opcode: WebSocketOpcode
    /// The application data, unmasked.
    public var payload: ByteBuffer

    public init(fin: Bool = true, rsv1: Bool = false, opcode: WebSocketOpcode, payload: ByteBuffer) {
        self.fin = fin
        self.rsv1 = rsv1
        self.opcode = opcode
        self.payload = payload
    }
}
