public import NIOCore

/// RFC 6455 §5.2 incremental parser for client-to-server frames.
///
/// The header is read again on each `next()` until the frame is whole: it is at most 14 bytes, and keeping no state
/// between calls means bytes arriving one at a time and many frames in one read take the same path. The payload
/// length is checked against `maxFrameSize` as soon as the length field is in, before any of the payload is
/// buffered, so a hostile length costs nothing (RFC 6455 §10.4). The parser holds what `append` gave it, and `next()`
/// consumes it frame by frame; calling `next()` until it returns nil after each `append` keeps that to one frame.
///
/// After a thrown failure the parser is not meant to be used again: the connection is being failed (§7.1.7).
public struct WebSocketFrameParser: Sendable {
    /// Whether RSV1 may be set: true once permessage-deflate is agreed (RFC 7692 §6).
    public var allowRSV1: Bool
    private let maxFrameSize: Int
    private var buffer: ByteBuffer

    /// Shared by every parser whose bytes are all consumed, so an empty parser keeps no storage alive.
    private static let empty = ByteBufferAllocator().buffer(capacity: 0)

    /// - Parameters:
    ///   - maxFrameSize: the largest payload accepted in one frame; a larger length fails with 1009.
    ///   - allowRSV1: true when permessage-deflate was agreed.
    public init(maxFrameSize: Int, allowRSV1: Bool = false) {
        precondition(maxFrameSize >= 0, "maxFrameSize \(maxFrameSize) is negative")
        self.maxFrameSize = maxFrameSize
        self.allowRSV1 = allowRSV1
        self.buffer = Self.empty
    }

    /// Adds bytes read from the connection.
    public mutating func append(_ bytes: ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        guard buffer.readableBytes > 0 else {
            buffer = bytes  // the common case: nothing left over, so no copy
            return
        }
        // Bytes already handed out as frames stay in the storage until discarded; drop them once they are the bulk.
        if buffer.readerIndex >= 4096 && buffer.readerIndex >= buffer.readableBytes {
            buffer.discardReadBytes()
        }
        buffer.writeImmutableBuffer(bytes)
    }

    /// The storage held, for tests that check it stays bounded.
    var bufferCapacity: Int { buffer.capacity }

    /// The next whole frame, nil when more bytes are needed.
    public mutating func next() throws(WebSocketFailure) -> WebSocketFrame? {
        guard let header = try readHeader() else { return nil }
        guard buffer.readableBytes - header.length >= header.payloadLength else { return nil }
        buffer.moveReaderIndex(forwardBy: header.length)
        var payload = buffer.readSlice(length: header.payloadLength)!
        payload.webSocketUnmask(key: header.maskingKey)
        if buffer.readableBytes == 0 {
            buffer = Self.empty
        }
        return WebSocketFrame(fin: header.fin, rsv1: header.rsv1, opcode: header.opcode, payload: payload)
    }

    /// A frame header: `length` bytes on the wire, then `payloadLength` masked bytes.
    private struct Header {
        var fin: Bool
        var rsv1: Bool
        var opcode: WebSocketOpcode
        var length: Int
        var payloadLength: Int
        var maskingKey: UInt32
    }

    /// Reads the header at the reader index without consuming it, checking each rule as soon as its bytes are in;
    /// nil while the header is incomplete.
    private func readHeader() throws(WebSocketFailure) -> Header? {
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self),
            let second = buffer.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        let fin = first & 0x80 != 0
        let rsv1 = first & 0x40 != 0
        // §5.2: a nonzero reserved bit with no extension that defines it fails the connection.
        guard first & 0x30 == 0 else { throw .protocolError("RSV2 or RSV3 set") }
        guard let opcode = WebSocketOpcode(rawValue: first & 0x0F) else {
            throw .protocolError("reserved opcode \(first & 0x0F)")
        }
        // §5.1: a server MUST close the connection on an unmasked client frame.
        guard second & 0x80 != 0 else { throw .protocolError("unmasked client frame") }
        if rsv1 {
            guard allowRSV1 else { throw .protocolError("RSV1 set without an extension") }
            // RFC 7692 §6.1: only the first frame of a data message carries the "compressed" bit.
            guard !opcode.isControl else { throw .protocolError("RSV1 set on a control frame") }
            guard opcode != .continuation else { throw .protocolError("RSV1 set on a continuation frame") }
        }
        let shortLength = Int(second & 0x7F)
        if opcode.isControl {
            // §5.5: control frames are never fragmented and carry at most 125 bytes.
            guard fin else { throw .protocolError("fragmented control frame") }
            guard shortLength <= 125 else { throw .protocolError("control frame longer than 125 bytes") }
        }
        var length = 2
        let payloadLength: UInt64
        switch shortLength {
        case 126:
            guard let extended = buffer.getInteger(at: start + 2, as: UInt16.self) else { return nil }
            payloadLength = UInt64(extended)
            length += 2
        case 127:
            guard let extended = buffer.getInteger(at: start + 2, as: UInt64.self) else { return nil }
            // §5.2: the most significant bit of the 64-bit length MUST be 0.
            guard extended >> 63 == 0 else { throw .protocolError("64-bit length with the top bit set") }
            payloadLength = extended
            length += 8
        default:
            payloadLength = UInt64(shortLength)
        }
        guard payloadLength <= UInt64(maxFrameSize) else {
            throw .tooBig("frame larger than \(maxFrameSize) bytes")
        }
        guard let maskingKey = buffer.getInteger(at: start + length, as: UInt32.self) else { return nil }
        length += 4
        return Header(
            fin: fin,
            rsv1: rsv1,
            opcode: opcode,
            length: length,
            payloadLength: Int(payloadLength),
            maskingKey: maskingKey
        )
    }
}
