public import NIOCore

/// What the connection acts on once frames are assembled: a whole message or a control frame.
///
/// Control frames come out as soon as they arrive, even between the fragments of a message (RFC 6455 §5.4), so the
/// server can answer a ping without waiting for a large message to end (§5.5.2).
public enum WebSocketEvent: Sendable, Equatable {
    /// `.text` or `.binary`, the whole message, decompressed; a text message is valid UTF-8 (RFC 6455 §8.1).
    case message(WebSocketOpcode, ByteBuffer)
    /// To be answered with a pong carrying the same payload (RFC 6455 §5.5.2).
    case ping(ByteBuffer)
    /// Unsolicited or an answer; either way nothing to send (RFC 6455 §5.5.3).
    case pong(ByteBuffer)
    /// `code` is nil when the close frame had no payload (RFC 6455 §5.5.1, §7.1.5: status 1005 "no status").
    case close(code: UInt16?, reason: String)
}
