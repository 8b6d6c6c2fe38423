public import NIOCore
public import NIOHTTP1

/// A strict HTTP/1.1 request parser (RFC 9112) that enforces Meridian's limits while parsing.
///
/// It yields NIOHTTP1 request parts, the same parts HTTP/2 streams produce through
/// `HTTP2FramePayloadToHTTP1ServerCodec`, so everything above it is protocol-neutral.
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
        case part(HTTPServerRequestPart)
        /// The first bytes of a head arrived but the head is not complete yet.
        case headStarted
    }

    private enum State {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
    }

    private let limits: Limits
    private var state: State = .head
    private var endPending = false
    /// How far the search for the end of the head has got, so byte-at-a-time input stays linear.
    private struct ScanState {
        var offset = 0
        var lineStart = 0
        var requestLineEnd = -1
    }
    private var scan = ScanState()
    private var startSignalled = false
    private var chunkedBodyBytes = 0

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
            return .part(.head(head.head))

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

    // MARK: - Head

    private enum Framing { case none, length(Int), chunked }

    private mutating func parseHead(_ buffer: inout ByteBuffer) throws -> (head: HTTPRequestHead, framing: Framing)? {
        // RFC 9112 §2.2: ignore empty lines before the request line.
        while buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0x0D0A {
            buffer.moveReaderIndex(forwardBy: 2)
            scan = ScanState()
        }
        guard let end = try findHeadEnd(buffer) else { return nil }
        let result = try buffer.withUnsafeReadableBytes { bytes in
            try parseHeadBytes(UnsafeRawBufferPointer(rebasing: bytes[0..<end]))
        }
        buffer.moveReaderIndex(forwardBy: end + 2)
        return result
    }

    /// Finds the empty line ending the head; returns the offset of its CRLF. Enforces the line-ending
    /// rules and the size limits while it scans.
    private mutating func findHeadEnd(_ buffer: ByteBuffer) throws -> Int? {
        let limits = self.limits
        var scan = self.scan
        let found: Int? = try buffer.withUnsafeReadableBytes { bytes in
            var i = scan.offset
            while i < bytes.count {
                let byte = bytes[i]
                if byte == .lf {
                    guard i > 0, bytes[i - 1] == .cr else { throw HTTPParseError.bad("bare LF in request head") }
                    if scan.requestLineEnd < 0 { scan.requestLineEnd = i }
                    if i - scan.lineStart == 1 {  // the empty line
                        if scan.requestLineEnd < scan.lineStart && scan.lineStart - (scan.requestLineEnd + 1) > limits.maxHeaderBytes {
                            throw HTTPParseError(.requestHeaderFieldsTooLarge, "header section exceeds \(limits.maxHeaderBytes) bytes")
                        }
                        return scan.lineStart
                    }
                    scan.lineStart = i + 1
                } else if byte == .cr {
                    if i + 1 < bytes.count, bytes[i + 1] != .lf { throw HTTPParseError.bad("bare CR in request head") }
                } else if byte == 0 {
                    throw HTTPParseError.bad("NUL byte in request head")
                }
                i += 1
            }
            scan.offset = i
            // Incomplete: is it already too big?
            if scan.requestLineEnd >= 0 {
                if bytes.count - (scan.requestLineEnd + 1) > limits.maxHeaderBytes {
                    throw HTTPParseError(.requestHeaderFieldsTooLarge, "header section exceeds \(limits.maxHeaderBytes) bytes")
                }
            } else if bytes.count > limits.maxRequestLine {
                throw HTTPParseError(.uriTooLong, "request line exceeds \(limits.maxRequestLine) bytes")
            }
            return nil
        }
        self.scan = found == nil ? scan : ScanState()
        return found
    }

    private func parseHeadBytes(_ bytes: UnsafeRawBufferPointer) throws -> (head: HTTPRequestHead, framing: Framing) {
        // Request line: method SP request-target SP HTTP-version CRLF
        guard let lineEnd = bytes.firstIndex(of: .lf) else { throw HTTPParseError.bad("no request line") }
        let line = UnsafeRawBufferPointer(rebasing: bytes[0..<(lineEnd - 1)])
        if line.count > limits.maxRequestLine {
            throw HTTPParseError(.uriTooLong, "request line exceeds \(limits.maxRequestLine) bytes")
        }
        guard let sp1 = line.firstIndex(of: .space), sp1 > 0 else { throw HTTPParseError.bad("malformed request line") }
        guard let sp2 = line[(sp1 + 1)...].firstIndex(of: .space), sp2 > sp1 + 1 else {
            throw HTTPParseError.bad("malformed request line")
        }
        for b in line[0..<sp1] where !Self.isTokenByte(b) { throw HTTPParseError.bad("invalid byte in method") }
        for b in line[(sp1 + 1)..<sp2] where b <= 0x20 || b >= 0x7F {
            throw HTTPParseError.bad("invalid byte in request target")
        }
        let versionBytes = UnsafeRawBufferPointer(rebasing: line[(sp2 + 1)...])
        let version = try Self.parseVersion(versionBytes)
        let method = HTTPMethod(rawValue: String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<sp1]), as: UTF8.self))
        var uri = String(decoding: UnsafeRawBufferPointer(rebasing: line[(sp1 + 1)..<sp2]), as: UTF8.self)

        // Header fields.
        var headers = HTTPHeaders()
        headers.reserveCapacity(16)
        var count = 0
        var hostCount = 0
        var contentLength: Int? = nil
        var contentLengthCount = 0
        var transferEncoding: [Substring] = []
        var i = lineEnd + 1
        while i < bytes.count {
            guard let nl = bytes[i...].firstIndex(of: .lf) else { break }
            let field = UnsafeRawBufferPointer(rebasing: bytes[i..<(nl - 1)])
            i = nl + 1
            if field.isEmpty { break }
            count += 1
            if count > limits.maxHeaderCount {
                throw HTTPParseError(.requestHeaderFieldsTooLarge, "more than \(limits.maxHeaderCount) header fields")
            }
            if field[0] == .space || field[0] == .tab {
                throw HTTPParseError.bad("obsolete line folding in header section")
            }
            guard let colon = field.firstIndex(of: .colon), colon > 0 else {
                throw HTTPParseError.bad("header field without a name and colon")
            }
            for b in field[0..<colon] where !Self.isTokenByte(b) {
                throw HTTPParseError.bad(b == .space || b == .tab ? "whitespace before colon in header field" : "invalid byte in header name")
            }
            var vs = colon + 1
            var ve = field.count
            while vs < ve && (field[vs] == .space || field[vs] == .tab) { vs += 1 }
            while ve > vs && (field[ve - 1] == .space || field[ve - 1] == .tab) { ve -= 1 }
            for b in field[vs..<ve] where (b < 0x20 && b != .tab) || b == 0x7F {
                throw HTTPParseError.bad("control byte in header value")
            }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: field[0..<colon]), as: UTF8.self)
            let value = String(decoding: UnsafeRawBufferPointer(rebasing: field[vs..<ve]), as: UTF8.self)
            switch colon {
            case 4 where name.lowercasedASCIIEquals("host"):
                hostCount += 1
                guard Self.isValidHost(value) else { throw HTTPParseError.bad("invalid Host header") }
            case 14 where name.lowercasedASCIIEquals("content-length"):
                contentLengthCount += 1
                guard let n = Self.parseContentLength(field[vs..<ve]) else {
                    throw HTTPParseError.bad("invalid Content-Length")
                }
                contentLength = n
            case 17 where name.lowercasedASCIIEquals("transfer-encoding"):
                transferEncoding.append(contentsOf: value.split(separator: ",", omittingEmptySubsequences: false))
            default:
                break
            }
            headers.add(name: name, value: value)
        }

        // RFC 9112 §3.2.2: a request in absolute-form names its host in the target.
        if !uri.hasPrefix("/") {
            if uri == "*" {
                guard method == .OPTIONS else { throw HTTPParseError.bad("asterisk-form is only for OPTIONS") }
            } else if let (authority, path) = Self.splitAbsoluteForm(uri) {
                guard Self.isValidHost(authority) else { throw HTTPParseError.bad("invalid authority in request target") }
                uri = path
                headers.replaceOrAdd(name: "host", value: authority)
                hostCount = max(hostCount, 1)
            } else {
                throw HTTPParseError.bad("request target is not origin-form or absolute-form")
            }
        }
        // RFC 9112 §3.2: exactly one Host in HTTP/1.1.
        if hostCount > 1 { throw HTTPParseError.bad("more than one Host header") }
        if hostCount == 0 && version.minor >= 1 { throw HTTPParseError.bad("HTTP/1.1 request without Host") }

        let framing: Framing
        if !transferEncoding.isEmpty {
            // RFC 9112 §6.1: with both, the message is likely an attempt to smuggle; refuse it.
            if contentLengthCount > 0 { throw HTTPParseError.bad("both Content-Length and Transfer-Encoding") }
            if version.minor == 0 { throw HTTPParseError.bad("Transfer-Encoding in an HTTP/1.0 request") }
            // Codings are tokens compared byte-wise: Unicode case folding (K -> k) would let a
            // coding another hop sees as unknown pass here as "chunked".
            let codings = try transferEncoding.map { raw -> String in
                let coding = raw.trimmingOWS()
                guard !coding.isEmpty, coding.utf8.allSatisfy(Self.isTokenByte) else {
                    throw HTTPParseError.bad("invalid transfer coding")
                }
                return coding.lowercasedASCIIEquals("chunked") ? "chunked" : coding
            }
            guard codings.last == "chunked" else { throw HTTPParseError.bad("Transfer-Encoding does not end in chunked") }
            guard codings.filter({ $0 == "chunked" }).count == 1 else {
                throw HTTPParseError.bad("chunked applied more than once")
            }
            if codings.count > 1 {
                throw HTTPParseError(.notImplemented, "transfer coding \(codings.dropLast().joined(separator: ", ")) is not supported")
            }
            framing = .chunked
        } else if contentLengthCount > 1 {
            throw HTTPParseError.bad("more than one Content-Length")
        } else if let n = contentLength {
            if n > limits.maxBodyBytes {
                throw HTTPParseError(.payloadTooLarge, "Content-Length \(n) exceeds \(limits.maxBodyBytes) bytes")
            }
            framing = n == 0 ? .none : .length(n)
        } else {
            framing = .none
        }
        return (HTTPRequestHead(version: version, method: method, uri: uri, headers: headers), framing)
    }

    private mutating func parseTrailers(_ buffer: inout ByteBuffer) throws -> HTTPHeaders? {
        guard let end = try findHeadEnd(buffer) else { return nil }
        var trailers = HTTPHeaders()
        if end > 0 {
            let text = buffer.getString(at: buffer.readerIndex, length: end) ?? ""
            for line in text.split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":"), colon > line.startIndex,
                    line[..<colon].utf8.allSatisfy(Self.isTokenByte),
                    line[line.index(after: colon)...].utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 })
                else { throw HTTPParseError.bad("malformed trailer field") }
                trailers.add(name: String(line[..<colon]), value: line[line.index(after: colon)...].trimmingOWS())
            }
            if trailers.count > limits.maxHeaderCount {
                throw HTTPParseError(.requestHeaderFieldsTooLarge, "more than \(limits.maxHeaderCount) trailer fields")
            }
        }
        buffer.moveReaderIndex(forwardBy: end + 2)
        return trailers
    }

    /// Reads one CRLF-terminated line, rejecting bare LF and lines over `max`.
    private mutating func readLine(_ buffer: inout ByteBuffer, max: Int, what: String) throws -> ByteBuffer? {
        let view = buffer.readableBytesView
        guard let lf = view.firstIndex(of: .lf) else {
            if view.count > max { throw HTTPParseError.bad("\(what) too long") }
            return nil
        }
        let length = lf - view.startIndex
        guard length >= 1, view[lf - 1] == .cr else { throw HTTPParseError.bad("bare LF in \(what)") }
        let line = buffer.readSlice(length: length - 1)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    // MARK: - Pieces

    static func parseChunkSize(_ line: ByteBuffer) throws -> Int {
        var size = 0
        var digits = 0
        for byte in line.readableBytesView {
            let v: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = Int(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = Int(byte - UInt8(ascii: "A") + 10)
            case .semicolon, .space, .tab:
                // After the digits only BWS then `;` chunk extensions may follow (RFC 9112 §7.1.1);
                // the extensions are ignored but must hold no control bytes.
                guard digits > 0 else { throw HTTPParseError.bad("chunk size missing") }
                let rest = line.readableBytesView.dropFirst(digits)
                guard let semicolon = rest.firstIndex(where: { $0 != .space && $0 != .tab }), rest[semicolon] == .semicolon else {
                    throw HTTPParseError.bad("invalid chunk size")
                }
                if rest.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
                    throw HTTPParseError.bad("control byte in chunk extension")
                }
                return size
            default:
                throw HTTPParseError.bad("invalid chunk size")
            }
            digits += 1
            guard digits <= 15 else { throw HTTPParseError(.payloadTooLarge, "chunk size too large") }
            size = size * 16 + v
        }
        guard digits > 0 else { throw HTTPParseError.bad("chunk size missing") }
        return size
    }

    /// 1*DIGIT; values too large for the limits come back as Int.max (413), never wrapped.
    static func parseContentLength(_ bytes: Slice<UnsafeRawBufferPointer>) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var n = 0
        for b in bytes {
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
            n = (o1 || o2) ? Int.max : a
        }
        return n
    }

    static func parseVersion(_ bytes: UnsafeRawBufferPointer) throws -> HTTPVersion {
        guard bytes.count == 8, bytes.starts(with: "HTTP/".utf8), bytes[6] == UInt8(ascii: "."),
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[5]),
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[7])
        else { throw HTTPParseError.bad("malformed HTTP version") }
        let major = Int(bytes[5] - UInt8(ascii: "0"))
        let minor = Int(bytes[7] - UInt8(ascii: "0"))
        guard major == 1 else { throw HTTPParseError(.httpVersionNotSupported, "HTTP/\(major).\(minor) is not supported") }
        return HTTPVersion(major: 1, minor: minor >= 1 ? 1 : 0)
    }

    /// `http://authority/path?q` -> (authority, /path?q)
    static func splitAbsoluteForm(_ uri: String) -> (String, String)? {
        let lower = uri.lowercased()
        let rest: Substring
        if lower.hasPrefix("http://") {
            rest = uri.dropFirst(7)
        } else if lower.hasPrefix("https://") {
            rest = uri.dropFirst(8)
        } else {
            return nil
        }
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = String(rest[..<end])
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var path = String(rest[end...])
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        return (authority, path)
    }

    /// uri-host [ ":" port ] with reg-name, IPv4 or IP-literal hosts (RFC 9110 §7.2), checked on bytes.
    static func isValidHost(_ value: String) -> Bool {
        var utf8 = Substring(value).utf8
        if utf8.isEmpty { return true }  // Host: (empty) is allowed when the target has no authority.
        if utf8.first == UInt8(ascii: "[") {
            guard let close = utf8.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = utf8[utf8.index(after: utf8.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ isHex($0) || $0 == .colon || $0 == UInt8(ascii: ".") }) else {
                return false
            }
            utf8 = utf8[utf8.index(after: close)...]
            if utf8.isEmpty { return true }
            guard utf8.first == .colon else { return false }
            let port = utf8.dropFirst()
            return port.count <= 5 && port.allSatisfy(isDigit)
        }
        if let colon = utf8.lastIndex(of: .colon) {
            let port = utf8[utf8.index(after: colon)...]
            guard port.count <= 5, port.allSatisfy(isDigit) else { return false }
            utf8 = utf8[..<colon]
        }
        return !utf8.isEmpty && utf8.allSatisfy { b in
            isTokenByte(b) && b != UInt8(ascii: "*") && b != UInt8(ascii: "|") && b != UInt8(ascii: "`")
                && b != UInt8(ascii: "^") && b != UInt8(ascii: "#") && b != UInt8(ascii: "%")
        }
    }

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    @inline(__always) static func isHex(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46)
    }

    @inline(__always) static func isTokenByte(_ b: UInt8) -> Bool { tokenTable[Int(b)] }

    private static let tokenTable: [Bool] = (0..<256).map { b in
        let b = UInt8(b)
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(b)
        }
    }
}

/// ``HTTP1RequestParser`` as a `ByteToMessageDecoder`.
public struct HTTP1RequestDecoder: ByteToMessageDecoder {
    public typealias InboundOut = HTTPServerRequestPart

    public struct Limits: Sendable {
        public var maxRequestLine: Int
        public var maxHeaderBytes: Int
        public var maxHeaderCount: Int
        public var maxBodyBytes: Int
        public init(maxRequestLine: Int = 8192, maxHeaderBytes: Int = 32768, maxHeaderCount: Int = 100, maxBodyBytes: Int = 10 << 20) {
            self.maxRequestLine = maxRequestLine
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxBodyBytes = maxBodyBytes
        }
    }

    /// Fired when the first byte of a request head arrives but the head is not yet complete.
    public enum Event: Sendable {
        case requestHeadStarted
    }

    private var parser: HTTP1RequestParser

    public init(limits: Limits) {
        self.parser = HTTP1RequestParser(limits: limits)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch try parser.next(&buffer) {
        case .none:
            return .needMoreData
        case .headStarted:
            context.fireUserInboundEventTriggered(Event.requestHeadStarted)
            return .continue
        case .part(let part):
            context.fireChannelRead(wrapInboundOut(part))
            // A head without a body ends at once; say so before the buffer may run dry.
            if parser.endIsPending, case .part(let end)? = try parser.next(&buffer) {
                context.fireChannelRead(wrapInboundOut(end))
            }
            return .continue
        }
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if parser.isIdle && buffer.readableBytes == 0 { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        throw HTTPParseError.bad("connection closed in the middle of a request")
    }
}

extension UInt8 {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
}

extension StringProtocol {
    func trimmingOWS() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }

    /// ASCII case-insensitive comparison with a lowercase literal, without allocating.
    func lowercasedASCIIEquals(_ lower: String) -> Bool {
        guard self.utf8.count == lower.utf8.count else { return false }
        for (a, b) in zip(self.utf8, lower.utf8) where a != b && a | 0x20 != b {
            return false
        }
        return true
    }
}
