/// The opcodes a WebSocket frame can carry (RFC 6455 §5.2).
///
/// Only the six defined values are cases, so a frame that made it through `WebSocketFrameParser` always has a known
/// opcode: the reserved values 0x3–0x7 and 0xB–0xF fail the connection instead (RFC 6455 §5.2, "If an unknown opcode
/// is received, the receiving endpoint MUST _Fail the WebSocket Connection_").
public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Whether this is a control frame (close, ping, pong).
    ///
    /// Control frames are the opcodes with the most significant bit set (RFC 6455 §5.5); they may not be fragmented,
    /// carry at most 125 bytes, and may arrive between the fragments of a message.
    public var isControl: Bool { rawValue & 0x8 != 0 }
}
