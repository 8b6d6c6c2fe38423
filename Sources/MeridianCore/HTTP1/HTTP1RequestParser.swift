public import NIOCore
public import NIOHTTP1


/// A strict HTTP/1.1 request parser (RFC 9112) that enforces Meridian's limits while parsing.
///
/// It yields a ``RequestHead`` (its fields as the bytes received, ``RequestFields``) and NIOHTTP1 body parts;
/// `HTTP2ConnectionHandler` builds a ``RequestHead`` from HTTP/2 HEADERS, so everything above both is protocol-neutral.
/// Anything ambiguous is rejected rather than guessed at: bare LF, obs-fold, whitespace before
/// the colon, Content-Length together with Transfer-Encoding, duplicate or non-numeric
/// Content-Length, control bytes in values. Each becomes an ``HTTPParseError``.
///
/// The connection handler calls ``next(_:)`` directly (no pipeline hop or boxing per part);
/// ``HTTP1RequestDecoder`` wraps it as a `ByteToMessageDecoder` for other pipelines and for
/// `ByteToMessageDecoderVerifier`.
public struct HTTP1RequestParser: Sendable {
    public typealias Limits = HTTP1RequestDecoder.Limits

    public enum Output: Sendable {
        /// A request head, its fields kept as the bytes received (see ``RequestFields``).
        case head(RequestHead)
        /// A body piece or the end (never `.head`).
        case part(HTTPServerRequestPart)
        /// The first bytes of a head arrived but the head is not complete yet.
        case headStarted
    }

    enum State {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
    }

    var limits: Limits
    /// For the heads' field stores.
    var allocator = ByteBufferAllocator()
    var state: State = .head
    var endPending = false
    /// How far the search for the end of the head has got, so byte-at-a-time input stays linear.
    struct ScanState {
        var offset = 0
        var lineStart = 0
        var requestLineEnd = -1
    }
    var scan = ScanState()
    var startSignalled = false
    var chunkedBodyBytes = 0

    public init(limits: Limits) {
        self.limits = limits
    }

    /// A head without a body was returned; its `.end` comes next, needing no bytes.
    public var endIsPending: Bool { endPending }

    /// True between requests: nothing of a request has been consumed.
    public var isIdle: Bool {
        if case .head = state, !endPending { return true }
        return false
    }

    /// The next part (or event), or nil when more bytes are needed.
    public mutating func next(_ buffer: inout ByteBuffer) throws -> Output? {
        if endPending {
            endPending = false
            return .part(.end(nil))
        }
        switch state {
        case .head:
            guard let head = try parseHead(&buffer) else {
                if buffer.readableBytes > 0 && !startSignalled {
                    startSignalled = true
                    return .headStarted
                }
                return nil
            }
            startSignalled = false
            switch head.framing {
            case .none:
                endPending = true
            case .length(let n):
                state = .fixedBody(remaining: n)
            case .chunked:
                chunkedBodyBytes = 0
                state = .chunkSize
            }
            return .head(head.head)

        case .fixedBody(let remaining):
            guard buffer.readableBytes > 0 else { return nil }
            let n = min(remaining, buffer.readableBytes)
            let slice = buffer.readSlice(length: n)!
            if n == remaining {
                state = .head
                endPending = true
            } else {
                state = .fixedBody(remaining: remaining - n)
            }
            return .part(.body(slice))

        case .chunkSize:
            guard let line = try readLine(&buffer, max: 4096, what: "chunk size line") else { return nil }
            let size = try Self.parseChunkSize(line)
            let (total, overflow) = chunkedBodyBytes.addingReportingOverflow(size)
            guard !overflow, total <= limits.maxBodyBytes else {
                throw HTTPParseError(.payloadTooLarge, "chunked body exceeds \(limits.maxBodyBytes) bytes")
            }
            chunkedBodyBytes = total
            state = size == 0 ? .trailers : .chunkData(remaining: size)
            scan = ScanState()
            return try next(&buffer)

        case .chunkData(let remaining):
            guard buffer.readableBytes > 0 else { return nil }
            let n = min(remaining, buffer.readableBytes)
            state = n == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - n)
            return .part(.body(buffer.readSlice(length: n)!))

        case .chunkDataEnd:
            guard buffer.readableBytes >= 2 else {
                if buffer.readableBytes == 1, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) != .cr {
                    throw HTTPParseError.bad("chunk data not followed by CRLF")
                }
                return nil
            }
            guard buffer.readInteger(as: UInt16.self) == 0x0D0A else {
                throw HTTPParseError.bad("chunk data not followed by CRLF")
            }
            state = .chunkSize
            return try next(&buffer)

        case .trailers:
            guard let trailers = try parseTrailers(&buffer) else { return nil }
            state = .head
            return .part(.end(trailers.isEmpty ? nil : trailers))
        }
    }
}
