internal import NIOCore
internal import NIOHTTP1


/// Head and trailer parsing: request line, header fields, framing (RFC 9112 §3, §5, §6).
extension HTTP1RequestParser {
    // MARK: - Head

    enum Framing { case none, length(Int), chunked }

    mutating func parseHead(_ buffer: inout ByteBuffer) throws -> (head: RequestHead, framing: Framing)? {
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
    mutating func findHeadEnd(_ buffer: ByteBuffer) throws -> Int? {
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

    func parseHeadBytes(_ bytes: UnsafeRawBufferPointer) throws -> (head: RequestHead, framing: Framing) {
        // Request line: method SP request-target SP HTTP-version CRLF
        guard let lineEnd = ByteScan.first(.lf, in: bytes) else { throw HTTPParseError.bad("no request line") }
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

        // Header fields: their bytes copied once, with where each name and value lies (no String per field).
        var fields = RequestFieldsBuilder(
            section: UnsafeRawBufferPointer(rebasing: bytes[(lineEnd + 1)...]), allocator: allocator, maxCount: limits.maxHeaderCount
        )
        let sectionStart = lineEnd + 1
        var count = 0
        var hostCount = 0
        var contentLength: Int? = nil
        var contentLengthCount = 0
        var transferEncoding: [Substring] = []
        var i = lineEnd + 1
        while i < bytes.count {
            guard let found = ByteScan.first(.lf, in: UnsafeRawBufferPointer(rebasing: bytes[i...])) else { break }
            let nl = i + found
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
            // The colon found and the name checked in one pass (a search and then a second pass before); a bad byte
            // is reported as before: no colon at all first, then whitespace before it or a byte no name may have.
            var colon = 0
            while colon < field.count, field[colon] != .colon {
                let b = field[colon]
                guard Self.isTokenByte(b) else {
                    guard ByteScan.first(.colon, in: field) != nil else { throw HTTPParseError.bad("header field without a name and colon") }
                    throw HTTPParseError.bad(b == .space || b == .tab ? "whitespace before colon in header field" : "invalid byte in header name")
                }
                colon += 1
            }
            guard colon < field.count, colon > 0 else { throw HTTPParseError.bad("header field without a name and colon") }
            var vs = colon + 1
            var ve = field.count
            while vs < ve && (field[vs] == .space || field[vs] == .tab) { vs += 1 }
            while ve > vs && (field[ve - 1] == .space || field[ve - 1] == .tab) { ve -= 1 }
            for b in field[vs..<ve] where (b < 0x20 && b != .tab) || b == 0x7F {
                throw HTTPParseError.bad("control byte in header value")
            }
            let name = UnsafeRawBufferPointer(rebasing: field[0..<colon])
            switch colon {
            case 4 where name.equalsLowercase("host"):
                hostCount += 1
                guard Self.isValidHost(UnsafeRawBufferPointer(rebasing: field[vs..<ve])) else { throw HTTPParseError.bad("invalid Host header") }
            case 14 where name.equalsLowercase("content-length"):
                contentLengthCount += 1
                guard let n = Self.parseContentLength(field[vs..<ve]) else {
                    throw HTTPParseError.bad("invalid Content-Length")
                }
                contentLength = n
            case 17 where name.equalsLowercase("transfer-encoding"):
                let value = String(decoding: UnsafeRawBufferPointer(rebasing: field[vs..<ve]), as: UTF8.self)
                transferEncoding.append(contentsOf: value.split(separator: ",", omittingEmptySubsequences: false))
            default:
                break
            }
            let at = nl - 1 - field.count - sectionStart  // the field's line, as an offset into the section
            fields.add(name: at..<(at + colon), value: (at + vs)..<(at + ve))
        }
        var requestFields = fields.build()

        // RFC 9112 §3.2.2: a request in absolute-form names its host in the target.
        if !uri.hasPrefix("/") {
            if uri == "*" {
                guard method == .OPTIONS else { throw HTTPParseError.bad("asterisk-form is only for OPTIONS") }
            } else if let (authority, path) = Self.splitAbsoluteForm(uri) {
                guard Self.isValidHost(authority) else { throw HTTPParseError.bad("invalid authority in request target") }
                uri = path
                var headers = requestFields.httpHeaders  // (rare: the fields decoded, to put the Host in)
                headers.replaceOrAdd(name: "host", value: authority)
                requestFields = RequestFields(headers)
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
        return (RequestHead(method: method, uri: uri, version: version, fields: requestFields), framing)
    }

    mutating func parseTrailers(_ buffer: inout ByteBuffer) throws -> HTTPHeaders? {
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
    mutating func readLine(_ buffer: inout ByteBuffer, max: Int, what: String) throws -> ByteBuffer? {
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
}
