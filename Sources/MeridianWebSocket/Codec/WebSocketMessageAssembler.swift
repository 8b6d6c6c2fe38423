import NIOCore

/// Assembles messages from frames (RFC 6455 §5.4 fragmentation, §5.5 control frames, §8.1 UTF-8, §7.4 close codes).
///
/// Each fragment is checked as it arrives rather than when the message ends, so a client cannot make the server
/// buffer more than `maxMessageSize` bytes or wait for the end of a long message to learn that its text was never
/// UTF-8 (§5.6, §8.1). A compressed message (RSV1 on its first frame, RFC 7692 §6) is inflated fragment by fragment
/// with the limit on the *inflated* size, so a deflate bomb stops at the limit instead of being inflated whole.
///
/// After a thrown failure the assembler is not meant to be used again: the connection is being failed (§7.1.7).
public struct WebSocketMessageAssembler {
    private let maxMessageSize: Int
    private let decompressor: PerMessageDeflateDecompressor?
    private let allocator = ByteBufferAllocator()
    /// The fragmented message under way, if any.
    private var message: PartialMessage?

    /// - Parameters:
    ///   - maxMessageSize: the largest message accepted, after decompression; a larger one fails with 1009.
    ///   - decompressor: present when permessage-deflate was agreed; without it, RSV1 fails with 1002.
    public init(maxMessageSize: Int, decompressor: PerMessageDeflateDecompressor? = nil) {
        precondition(maxMessageSize >= 0, "maxMessageSize \(maxMessageSize) is negative")
        self.maxMessageSize = maxMessageSize
        self.decompressor = decompressor
    }

    /// The event a frame completes: nil while a fragmented message is still incomplete.
    public mutating func receive(_ frame: WebSocketFrame) throws(WebSocketFailure) -> WebSocketEvent? {
        switch frame.opcode {
        case .close, .ping, .pong:
            return try control(frame)
        case .text, .binary:
            // §5.4: the fragments of one message are not interleaved with another message's.
            guard message == nil else { throw .protocolError("new message before the last one ended") }
            var started = try PartialMessage(first: frame, decompressor: decompressor, allocator: allocator)
            return try add(frame, to: &started)
        case .continuation:
            guard var continued = message else { throw .protocolError("continuation frame with no message started") }
            // RFC 7692 §6.1: RSV1 belongs on the first frame only.
            guard !frame.rsv1 else { throw .protocolError("RSV1 set on a continuation frame") }
            message = nil  // leaves the only reference to the buffer in `continued`, so appending does not copy it
            return try add(frame, to: &continued)
        }
    }

    /// Appends a data frame's payload, checking size and UTF-8; the whole message once `fin` is set.
    private mutating func add(
        _ frame: WebSocketFrame,
        to partial: inout PartialMessage
    ) throws(WebSocketFailure) -> WebSocketEvent? {
        let before = partial.data.readableBytes
        if let decompressor = partial.decompressor {
            try decompressor.inflate(frame.payload, isFinal: frame.fin, into: &partial.data, maxSize: maxMessageSize)
        } else {
            guard frame.payload.readableBytes <= maxMessageSize - partial.data.readableBytes else {
                throw .tooBig("message larger than \(maxMessageSize) bytes")
            }
            if partial.data.readableBytes == 0 {
                partial.data = frame.payload  // one-frame messages, the usual case, are not copied
            } else {
                partial.data.writeImmutableBuffer(frame.payload)
            }
        }
        if partial.opcode == .text {
            let added = partial.data.readableBytes - before
            let valid = partial.data.withUnsafeReadableBytes { bytes in
                partial.utf8.validate(UnsafeRawBufferPointer(rebasing: bytes.suffix(added)))
            }
            guard valid else { throw .invalidPayload("text message is not valid UTF-8") }
            if frame.fin {
                guard partial.utf8.isComplete else { throw .invalidPayload("text message ends inside a character") }
            }
        }
        guard frame.fin else {
            message = partial
            return nil
        }
        return .message(partial.opcode, partial.data)
    }

    /// Control frames come out at once, even between fragments (§5.4), after the §5.5 rules are checked again so the
    /// assembler holds to them whatever produced the frame.
    private func control(_ frame: WebSocketFrame) throws(WebSocketFailure) -> WebSocketEvent {
        guard frame.fin else { throw .protocolError("fragmented control frame") }
        guard frame.payload.readableBytes <= 125 else { throw .protocolError("control frame longer than 125 bytes") }
        guard !frame.rsv1 else { throw .protocolError("RSV1 set on a control frame") }
        switch frame.opcode {
        case .ping:
            return .ping(frame.payload)
        case .pong:
            return .pong(frame.payload)
        default:
            return try Self.close(frame.payload)
        }
    }

    /// A close frame's body: nothing, or a 2-byte status code and a UTF-8 reason (RFC 6455 §5.5.1).
    private static func close(_ payload: ByteBuffer) throws(WebSocketFailure) -> WebSocketEvent {
        var payload = payload
        guard payload.readableBytes > 0 else { return .close(code: nil, reason: "") }
        guard let code = payload.readInteger(as: UInt16.self) else {
            throw .protocolError("close frame with a 1-byte payload")
        }
        guard isValidCloseCode(code) else { throw .protocolError("invalid close code \(code)") }
        guard UTF8Validator.isValid(payload) else { throw .invalidPayload("close reason is not valid UTF-8") }
        return .close(code: code, reason: payload.readString(length: payload.readableBytes) ?? "")
    }

    /// Whether a client may send `code` (RFC 6455 §7.4.1, §7.4.2, and the IANA registry).
    ///
    /// 1000–1003 and 1007–1014 are defined for use on the wire; 1004 is reserved, 1005, 1006 and 1015 are only for
    /// reporting locally and "MUST NOT be set as a status code in a Close control frame" (§7.4.1); 1016–2999 are
    /// unassigned; 3000–4999 belong to libraries and applications (§7.4.2). Below 1000 and from 5000 up are undefined.
    static func isValidCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }
}

@available(*, unavailable)
extension WebSocketMessageAssembler: Sendable {}

extension WebSocketMessageAssembler {
    /// A message whose first frame has arrived.
    private struct PartialMessage {
        var opcode: WebSocketOpcode
        /// The inflater for a compressed message, nil for a plain one.
        var decompressor: PerMessageDeflateDecompressor?
        var data: ByteBuffer
        var utf8 = UTF8Validator()

        init(
            first frame: WebSocketFrame,
            decompressor: PerMessageDeflateDecompressor?,
            allocator: ByteBufferAllocator
        ) throws(WebSocketFailure) {
            opcode = frame.opcode
            if frame.rsv1 {
                guard let decompressor else { throw .protocolError("RSV1 set without permessage-deflate") }
                self.decompressor = decompressor
                // Text compresses to a third or so; the buffer doubles from there as the output grows.
                data = allocator.buffer(capacity: min(frame.payload.readableBytes * 3 + 64, 1 << 16))
            } else {
                self.decompressor = nil
                data = allocator.buffer(capacity: 0)
            }
        }
    }
}
