internal import NIOCore
internal import NIOHPACK
internal import NIOHTTP1
internal import NIOHTTP2

/// HTTP/2 header blocks to and from the HTTP/1.1-shaped heads the request layer uses.
extension HTTP2ConnectionHandler {
    /// What makes a request header block malformed (RFC 9113 §8.2, §8.3.1), or nil. NIOHTTP2's own
    /// header validation is off because it also checks every header this server sends, which cost
    /// a tenth of a small request's CPU; inbound blocks are checked here in one pass instead.
    static func malformation(_ headers: HPACKHeaders) -> String? {
        var seenRegular = false
        var method = false, scheme = false, path = false, authority = false, protocolName = false
        var isConnect = false
        for (name, value, _) in headers {
            let n = name.utf8
            guard !n.isEmpty else { return "empty field name" }
            if n.first == UInt8(ascii: ":") {
                if seenRegular { return "pseudo-header after a regular field" }
                if name == ":method" {
                    if method { return "duplicate :method" }
                    method = true
                    isConnect = value == "CONNECT"
                } else if name == ":scheme" {
                    if scheme { return "duplicate :scheme" }
                    scheme = true
                } else if name == ":path" {
                    if path { return "duplicate :path" }
                    if value.isEmpty { return "empty :path" }
                    path = true
                } else if name == ":authority" {
                    if authority { return "duplicate :authority" }
                    authority = true
                } else if name == ":protocol" {
                    // RFC 8441 §4: extended CONNECT.
                    if protocolName { return "duplicate :protocol" }
                    if value.isEmpty { return "empty :protocol" }
                    protocolName = true
                } else {
                    return "unknown pseudo-header \(name)"
                }
            } else {
                seenRegular = true
                if let problem = fieldProblem(name) { return problem }
                if n.count == 2 && name == "te" && value != "trailers" { return "te other than trailers" }
            }
            if let problem = valueProblem(value) { return problem }
        }
        if !method { return "missing :method" }
        if protocolName && !isConnect { return ":protocol without CONNECT" }
        if (!isConnect || protocolName) && (!scheme || !path) { return "missing :scheme or :path" }
        return nil
    }

    /// RFC 9113 §8.3: pseudo-headers become the request line and Host; cookie crumbs are joined
    /// back (§8.2.3) so the rest of the server sees an HTTP/1.1-shaped request.
    static func requestHead(_ headers: HPACKHeaders) -> RequestHead {
        var method = "GET"
        var path = "/"
        var authority: String?
        var fields = HTTPHeaders()
        fields.reserveCapacity(headers.count + 1)
        var cookies: [String] = []
        for (name, value, _) in headers {
            let utf8 = name.utf8
            if utf8.first == UInt8(ascii: ":") {
                if name == ":method" {
                    method = value
                } else if name == ":path" {
                    path = value
                } else if name == ":authority" {
                    authority = value
                } else if name == ":protocol" {
                    // Kept for the responder: ``Request/upgradeProtocol`` reads it.
                    fields.add(name: ":protocol", value: value)
                }
            } else if utf8.count == 6 && name == "cookie" {
                cookies.append(value)
            } else {
                fields.add(name: name, value: value)
            }
        }
        if let authority, !fields.contains(name: "host") { fields.add(name: "host", value: authority) }
        if !cookies.isEmpty { fields.add(name: "cookie", value: cookies.joined(separator: "; ")) }
        return RequestHead(method: HTTPMethod(rawValue: method), uri: path, version: .http2, fields: RequestFields(fields))
    }

    /// Response headers as HPACK: names lower-cased (RFC 9113 §8.2.1), connection-specific fields
    /// dropped (§8.2.2), and the values unique to each response kept out of the dynamic table.
    func responseHeaders(_ response: Response, for exchange: HTTPExchange) -> HPACKHeaders {
        let fields = response.headers  // (read once: a proxied response's are decoded from its lines when read)
        var out = HPACKHeaders()
        out.reserveCapacity(fields.count + 5)
        out.add(name: ":status", value: String(response.status.code))
        for (name, value) in fields {
            let lower = name.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? name.lowercased() : name
            if Self.isConnectionSpecific(lower) { continue }
            out.add(name: lower, value: value)
        }
        // Date changes once a second: indexed, it is one table entry a second instead of a Huffman
        // encoding per response. The request id is unique, so it never enters the table.
        out.add(name: "date", value: exchange.date)
        let serverHeader = exchange.runtime.serverHeader
        if !serverHeader.isEmpty { out.add(name: "server", value: serverHeader) }
        out.add(name: "x-request-id", value: exchange.request.id, indexing: .nonIndexable)
        for (name, value) in listener.extraHeaders { out.replaceOrAdd(name: name.lowercased(), value: value) }
        if response.statusAllowsBody, let length = response.body.declaredLength { out.add(name: "content-length", value: String(length)) }
        return out
    }

    /// Fields HTTP/2 forbids (RFC 9113 §8.2.2) plus content-length, which is set here. Compared on
    /// bytes, length first: this runs for every response header.
    static func isConnectionSpecific(_ lower: String) -> Bool {
        let utf8 = lower.utf8
        switch utf8.count {
        case 7: return lower == "upgrade"
        case 10: return lower == "connection" || lower == "keep-alive"
        case 14: return lower == "content-length"
        case 16: return lower == "proxy-connection"
        case 17: return lower == "transfer-encoding"
        default: return false
        }
    }


    /// Trailers as fields (pseudo-headers are not allowed in them, RFC 9113 §8.1).
    /// Checked as strictly as request headers (§8.2): they reach readers, and the proxy will
    /// forward them.
    static func trailers(_ headers: HPACKHeaders) -> HTTPHeaders? {
        var fields = HTTPHeaders()
        for (name, value, _) in headers {
            guard name.utf8.first != UInt8(ascii: ":"), fieldProblem(name) == nil, name != "te", name != "content-length",
                valueProblem(value) == nil
            else { return nil }
            fields.add(name: name, value: value)
        }
        return fields
    }

    /// A regular field name's problem (§8.2, §8.2.2), or nil; content-length is allowed here.
    static func fieldProblem(_ name: String) -> String? {
        let n = name.utf8
        guard !n.isEmpty else { return "empty field name" }
        for b in n where !HTTP1RequestParser.isTokenByte(b) || (b >= 0x41 && b <= 0x5A) {
            return "invalid or upper-case field name"
        }
        if isConnectionSpecific(name) && !(n.count == 14 && name == "content-length") { return "connection-specific field \(name)" }
        return nil
    }

    /// A field value's problem (§8.2.1), or nil.
    static func valueProblem(_ value: String) -> String? {
        let v = value.utf8
        if let first = v.first, first == 0x20 || first == 0x09 { return "leading whitespace in a value" }
        if let last = v.last, last == 0x20 || last == 0x09 { return "trailing whitespace in a value" }
        for b in v where b == 0 || b == 0x0A || b == 0x0D { return "NUL, CR or LF in a value" }
        return nil
    }
}
