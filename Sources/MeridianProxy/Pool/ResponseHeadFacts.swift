internal import NIOCore
internal import NIOHTTP1

/// What a response head's framing and connection fields say, read field by field: while
/// ``UpstreamHTTP1Codec`` parses the head (those fields then never become `String`s in the head handed on)
/// or from a head's `HTTPHeaders` (an HTTP/2 upstream, the tests). It gives the codec its framing (RFC 9112
/// §6.3), the exchange the Content-Length and keep-alive, and says whether the head's fields may go to the
/// client as they are.
struct ResponseHeadFacts {
    private var sawCoding = false
    /// The last transfer coding named so far is `chunked`.
    private var lastCodingChunked = false
    /// The one Content-Length of the fields that hold one value.
    private var length: Int?
    /// `Content-Length` values that are lists (`5, 5`), checked when the framing is asked for (rare).
    private var lists: [String] = []
    private var invalidLength = false
    private var close = false
    private var keepAliveToken = false
    /// The head handed on holds only fields the client gets (the codec left out the hop-by-hop ones and those the
    /// request layer writes itself, and `Connection` names no other field): the exchange need not filter it.
    private(set) var filtered = false
    /// A filtered head's fields as `name: value\r\n` lines (``UpstreamHTTP1Codec`` leaves the head's `headers` empty
    /// then): the exchange answers with them as they are, unless the route's rules change the fields.
    var encodedFields: ByteBuffer?

    /// Facts of a head the codec is about to filter.
    static func filtering() -> ResponseHeadFacts {
        var facts = ResponseHeadFacts()
        facts.filtered = true
        return facts
    }

    /// The facts of `headers` (not filtered).
    init(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            switch name.utf8.count {
            case 10 where name.lowercasedASCIIEquals("connection"): _ = connection(value)
            case 14 where name.lowercasedASCIIEquals("content-length"): contentLength(value)
            case 17 where name.lowercasedASCIIEquals("transfer-encoding"): transferEncoding(value)
            default: break
            }
        }
    }

    private init() {}

    /// A Content-Length value as the codec found it: one number read in place; a list goes the `String` way.
    mutating func contentLength(_ value: UnsafeRawBufferPointer) {
        guard !value.contains(UInt8(ascii: ",")) else { return contentLength(String(decoding: value, as: UTF8.self)) }
        var n = 0
        for b in value {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else {
                invalidLength = true
                return
            }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
            guard !o1, !o2 else {
                invalidLength = true
                return
            }
            n = a
        }
        guard !value.isEmpty, length == nil || length == n else {
            invalidLength = true
            return
        }
        length = n
    }

    /// A `Connection` value as the codec found it: the usual single token read in place.
    mutating func connection(_ value: UnsafeRawBufferPointer) -> Bool {
        let bytes = value.assumingMemoryBound(to: UInt8.self)
        if bytes.equalsLowercase("keep-alive") {
            keepAliveToken = true
            return false
        }
        if bytes.equalsLowercase("close") {
            close = true
            return false
        }
        return connection(String(decoding: value, as: UTF8.self))
    }

    mutating func contentLength(_ value: String) {
        guard !value.utf8.contains(UInt8(ascii: ",")) else {
            lists.append(value)
            return
        }
        guard let n = UpstreamHTTP1Codec.contentLength(Substring(value)), length == nil || length == n else {
            invalidLength = true
            return
        }
        length = n
    }

    mutating func transferEncoding(_ value: String) {
        sawCoding = true
        if let chunked = UpstreamHTTP1Codec.lastCodingIsChunked(value) { lastCodingChunked = chunked }
    }

    /// Reads a `Connection` value; true when it names other fields (which the exchange then removes: the field
    /// must stay in the head for it, and the head is no longer ready to go as it is).
    mutating func connection(_ value: String) -> Bool {
        var namesFields = false
        RequestRewriter.forEachToken(value) { token in
            if token.equalsLowercase("close") {
                close = true
            } else if token.equalsLowercase("keep-alive") {
                keepAliveToken = true
            } else {
                namesFields = true
            }
        }
        if namesFields { filtered = false }
        return namesFields
    }

    /// How the body is delimited; the errors are the response's (both framings, unequal lengths).
    func framing(bodiless: Bool) throws -> UpstreamHTTP1Codec.Framing {
        if invalidLength { throw HTTPParserError.invalidContentLength }
        if sawCoding && (length != nil || !lists.isEmpty) { throw HTTPParserError.unexpectedContentLength }
        if bodiless { return .none }
        if sawCoding { return lastCodingChunked ? .chunked : .untilClose }
        var length = self.length
        var valid = true
        for value in lists {
            RequestRewriter.forEachToken(value) { element in
                guard let n = UpstreamHTTP1Codec.contentLength(Substring(element)), length == nil || length == n else {
                    valid = false
                    return
                }
                length = n
            }
        }
        guard valid else { throw HTTPParserError.invalidContentLength }
        guard let length else { return .untilClose }
        return .length(length)
    }

    /// The Content-Length the client is told: one valid value, and no Transfer-Encoding.
    var contentLength: Int? { sawCoding ? nil : length }

    /// Whether the connection stays open after the response (RFC 9112 §9.3): HTTP/1.1 unless `close`, HTTP/1.0
    /// only with `keep-alive`.
    func keepsAlive(_ version: HTTPVersion) -> Bool {
        !close && ((version.major == 1 && version.minor >= 1) || keepAliveToken)
    }
}
