public import NIOCore
public import NIOHTTP1

/// A response, protocol-neutral: HTTP/1.1 serialises it itself, HTTP/2 maps it to frames.
public struct Response: Sendable {
    public var status: HTTPResponseStatus
    /// The header fields. A response made from encoded lines (``init(status:encodedFields:body:)``, a proxied head)
    /// decodes them each time this is read, and holds the decoded fields from the first change on.
    public var headers: HTTPHeaders {
        get { encodedFields.map(Self.decodeFields) ?? storedHeaders }
        set {
            storedHeaders = newValue
            encodedFields = nil
        }
        _modify {
            if let encoded = encodedFields {
                storedHeaders = Self.decodeFields(encoded)
                encodedFields = nil
            }
            yield &storedHeaders
        }
    }
    private var storedHeaders: HTTPHeaders
    /// The header fields as `name: value\r\n` lines, when the response was made from them: HTTP/1.1 copies them into
    /// its head as they are (no `String` per field, no `HTTPHeaders`). Never framing or `Connection` fields.
    package private(set) var encodedFields: ByteBuffer?
    public var body: ResponseBody
    /// Set by ``switchingProtocols(_:headers:)``: the answer switches protocols.
    public var upgrade: ProtocolUpgrade?

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ResponseBody = .empty) {
        self.status = status
        self.storedHeaders = headers
        self.body = body
    }

    /// A response whose fields are already encoded as `name: value\r\n` lines, each a valid field (token name, one
    /// `: `, a value without CR, LF or NUL), none of them `Content-Length`, `Transfer-Encoding` or `Connection` (the
    /// request layer writes those): a proxied head filtered as it was parsed.
    package init(status: HTTPResponseStatus, encodedFields: ByteBuffer, body: ResponseBody = .empty) {
        self.status = status
        self.storedHeaders = [:]
        self.encodedFields = encodedFields
        self.body = body
    }

    /// The fields of `name: value\r\n` lines (as ``init(status:encodedFields:body:)`` takes them).
    package static func decodeFields(_ encoded: ByteBuffer) -> HTTPHeaders {
        encoded.withUnsafeReadableBytes { raw in
            var fields: [(String, String)] = []
            var start = 0
            while start < raw.count {
                let rest = UnsafeRawBufferPointer(rebasing: raw[start...])
                let lineEnd = rest.firstIndex(of: UInt8(ascii: "\r")).map { start + $0 } ?? raw.count
                let line = UnsafeRawBufferPointer(rebasing: raw[start..<lineEnd])
                if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
                    var valueStart = colon + 1
                    if valueStart < line.count, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
                    fields.append(
                        (
                            String(decoding: UnsafeRawBufferPointer(rebasing: line[..<colon]), as: UTF8.self),
                            String(decoding: UnsafeRawBufferPointer(rebasing: line[valueStart...]), as: UTF8.self)
                        )
                    )
                }
                start = lineEnd + 2
            }
            return HTTPHeaders(fields)
        }
    }

    /// A short plain-text answer, as errors and probes give.
    public static func text(_ status: HTTPResponseStatus, _ text: String, headers: HTTPHeaders = [:]) -> Response {
        var headers = headers
        headers.replaceOrAdd(name: "content-type", value: "text/plain; charset=utf-8")
        return Response(status: status, headers: headers, body: .buffer(ByteBuffer(string: text)))
    }

    /// Whether this status may carry content at all (RFC 9110 §6.4.1).
    public var statusAllowsBody: Bool {
        let code = status.code
        return !(code < 200 || code == 204 || code == 304)
    }
}

/// The content of a response.
public enum ResponseBody: Sendable {
    case empty
    case buffer(ByteBuffer)
    case file(FileSlice)
    /// Concatenated pieces, as multipart/byteranges needs.
    case parts([ResponseBodyPart])
    /// A body of unknown length produced while it is sent (server-sent events): chunked on
    /// HTTP/1.1, DATA frames on HTTP/2.
    case stream(BodyStream)

    /// The length when known up front; 0 for a stream.
    public var length: Int {
        switch self {
        case .empty, .stream: return 0
        case .buffer(let b): return b.readableBytes
        case .file(let f): return f.length
        case .parts(let parts): return parts.reduce(0) { $0 + $1.length }
        }
    }

    /// The length a client is told: known for every body but a stream that declares none.
    public var declaredLength: Int? {
        if case .stream(let s) = self { return s.length }
        return length
    }

    public var isStream: Bool {
        if case .stream = self { return true }
        return false
    }
}

/// A body written piece by piece. `produce` is called on the connection's event loop once the head
/// is out; it calls `write` for each piece (the returned future completes when the piece has been
/// written, which is the producer's backpressure) and completes its own future to end the body.
/// A failed write means the client is gone: the producer stops and fails its future.
public struct BodyStream: Sendable {
    public typealias Write = @Sendable (ByteBuffer) -> EventLoopFuture<Void>
    public let produce: @Sendable (_ eventLoop: any EventLoop, _ write: @escaping Write) -> EventLoopFuture<Void>
    /// The length, when the producer knows it (a proxied response with `Content-Length`): the
    /// client is told it instead of chunked framing, and a producer that ends short fails.
    public let length: Int?
    /// Read once the body has ended: trailer fields to send after it (a proxied gRPC status).
    public let trailers: (@Sendable () -> HTTPHeaders?)?

    public init(
        length: Int? = nil, trailers: (@Sendable () -> HTTPHeaders?)? = nil,
        produce: @escaping @Sendable (_ eventLoop: any EventLoop, _ write: @escaping Write) -> EventLoopFuture<Void>
    ) {
        self.length = length
        self.trailers = trailers
        self.produce = produce
    }
}

public enum ResponseBodyPart: Sendable {
    case buffer(ByteBuffer)
    case file(FileSlice)

    public var length: Int {
        switch self {
        case .buffer(let b): return b.readableBytes
        case .file(let f): return f.length
        }
    }
}

/// A byte range of an open file. `owner` keeps the descriptor open until the bytes are written.
public struct FileSlice: Sendable {
    public var handle: NIOFileHandle
    /// The same descriptor as `handle`, for positional reads off the event loop (which never move a
    /// shared offset, so many readers may use it at once).
    public var descriptor: CInt
    public var offset: Int
    public var length: Int
    public var owner: any AnyObject & Sendable

    public init(handle: NIOFileHandle, descriptor: CInt, offset: Int, length: Int, owner: any AnyObject & Sendable) {
        self.handle = handle
        self.descriptor = descriptor
        self.offset = offset
        self.length = length
        self.owner = owner
    }
}
