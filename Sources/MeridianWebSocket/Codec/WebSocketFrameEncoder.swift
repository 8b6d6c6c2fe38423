public import NIOCore

/// Server-to-client frames (never masked, RFC 6455 §5.1).
///
/// A server MUST NOT mask its frames (§5.1), so a frame is the 2–10 byte header of §5.2 followed by the payload as
/// it is; both go in one buffer so a frame is one write. Lengths use the shortest encoding (§5.2: "the minimal number
/// of bytes MUST be used").
public enum WebSocketFrameEncoder {
    /// Header and payload in one buffer (one write per frame).
    ///
    /// A control frame must be final, carry at most 125 bytes and no RSV1 (§5.5, RFC 7692 §6.1); anything else is a
    /// bug in the caller and traps.
    public static func encode(
        _ opcode: WebSocketOpcode,
        payload: ByteBuffer,
        fin: Bool = true,
        rsv1: Bool = false,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let length = payload.readableBytes
        precondition(!opcode.isControl || (fin && !rsv1 && length <= 125), "invalid control frame: \(opcode)")
        let headerLength = length <= 125 ? 2 : length <= 0xFFFF ? 4 : 10
        var frame = allocator.buffer(capacity: headerLength + length)
        frame.writeInteger((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode.rawValue)
        switch length {
        case ...125:
            frame.writeInteger(UInt8(length))
        case ...0xFFFF:
            frame.writeInteger(UInt8(126))
            frame.writeInteger(UInt16(length))
        default:
            frame.writeInteger(UInt8(127))
            frame.writeInteger(UInt64(length))
        }
        frame.writeImmutableBuffer(payload)
        return frame
    }

    /// A close frame with code and reason (reason truncated on a UTF-8 boundary to fit 125 bytes).
    ///
    /// A control frame carries at most 125 bytes (§5.5), two of them the code (§5.5.1), so the reason keeps its first
    /// 123 bytes; the cut goes before a character rather than through it, because the client fails the connection
    /// on a reason that is not UTF-8 (§8.1).
    public static func close(code: UInt16, reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var payload = allocator.buffer(capacity: 125)
        payload.writeInteger(code)
        payload.writeBytes(truncated(reason, toUTF8Count: 123))
        return encode(.close, payload: payload, allocator: allocator)
    }

    /// The longest prefix of `text` that is at most `limit` bytes of UTF-8 and ends on a character boundary.
    static func truncated(_ text: String, toUTF8Count limit: Int) -> Substring.UTF8View {
        let utf8 = text.utf8
        guard let limitIndex = utf8.index(utf8.startIndex, offsetBy: limit, limitedBy: utf8.endIndex),
            limitIndex != utf8.endIndex
        else { return text[...].utf8 }
        var end = limitIndex
        // A continuation byte (10xxxxxx) at the cut means the cut is inside a character: move it to the lead byte.
        while end > utf8.startIndex && utf8[end] & 0xC0 == 0x80 {
            end = utf8.index(before: end)
        }
        return text[..<end].utf8
    }
}
