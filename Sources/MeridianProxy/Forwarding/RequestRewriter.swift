internal import Foundation
public import MeridianConfig
internal import MeridianCore
public import NIOCore
internal import NIOHTTP1

/// Builds the request head that goes upstream and filters the response head that comes back:
/// hop-by-hop fields out (RFC 9110 §7.6.1, including those `Connection` names), `X-Forwarded-*`
/// and `Forwarded` (RFC 7239) believed only from trusted proxies, `Via` (RFC 9110 §7.6.3), the
/// route's path rewrite, Host rule and header rules.
struct RequestRewriter: Sendable {
    let stripPrefix: String?
    let rewrite: (regex: CompiledRegex, template: String)?
    let host: Configuration.ProxyAction.HostHeader
    let requestRules: Configuration.ProxyAction.HeaderRules
    let responseRules: Configuration.ProxyAction.HeaderRules
    let trustedProxies: [IPNetwork]
    /// This hop's name in `Via`.
    let viaName: String

    init(_ action: Configuration.ProxyAction, trustedProxies: [IPNetwork], viaName: String) throws {
        self.stripPrefix = action.stripPrefix
        if let r = action.rewrite {
            self.rewrite = (CompiledRegex(expression: try NSRegularExpression(pattern: r.regex)), r.to)
        } else {
            self.rewrite = nil
        }
        self.host = action.host
        self.requestRules = action.requestHeaders
        self.responseRules = action.responseHeaders
        self.trustedProxies = trustedProxies
        self.viaName = viaName
    }

    /// The upstream request's target: the client's own when no rewrite applies (as nginx passes
    /// it with a URI-less `proxy_pass`), else the normalised path rewritten, with the query.
    func target(for request: Request) -> String {
        guard stripPrefix != nil || rewrite != nil else {
            return request.head.uri.hasPrefix("/") ? request.head.uri : String(request.path) + (request.query.map { "?\($0)" } ?? "")
        }
        var path = String(request.path)
        if let prefix = stripPrefix, path.hasPrefix(prefix) {
            path = String(path.dropFirst(prefix.count))
            if !path.hasPrefix("/") { path = "/" + path }
        }
        if let (regex, template) = rewrite {
            let range = NSRange(path.startIndex..., in: path)
            if let m = regex.expression.firstMatch(in: path, range: range) {
                var out = ""
                var i = template.startIndex
                while i < template.endIndex {
                    let c = template[i]
                    let next = template.index(after: i)
                    if c == "$", next < template.endIndex, let d = template[next].wholeNumberValue, d < m.numberOfRanges {
                        if let r = Range(m.range(at: d), in: path) { out += path[r] }
                        i = template.index(after: next)
                    } else {
                        out.append(c)
                        i = next
                    }
                }
                path = out
            }
        }
        if let q = request.query { path += "?" + q }
        return path
    }

    /// The head sent upstream. `endpoint` is the `host:port` of the endpoint (for `host: upstream`).
    /// `target` is ``target(for:)`` of this request, worked out once per exchange.
    func upstreamHead(for request: Request, target: String, endpoint: String, traceparent: String?) -> HTTPRequestHead {
        let incoming = request.headers
        var headers = HTTPHeaders()
        headers.reserveCapacity(incoming.count + 6)
        let named = Self.connectionNamed(incoming)
        let clientHost = incoming.first(name: "host") ?? request.host
        for (name, value) in incoming {
            if name.utf8.first == UInt8(ascii: ":") { continue }  // HTTP/2 pseudo-fields kept by the request layer
            let lower = Self.lower(name)
            if Self.isHopByHop(lower) || (!named.isEmpty && named.contains(lower)) { continue }
            switch lower {
            case "host", "expect", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "via", "traceparent",
                "tracestate":
                continue
            default: headers.add(name: name, value: value)
            }
        }
        switch host {
        case .pass: headers.add(name: "host", value: clientHost)
        case .upstream: headers.add(name: "host", value: endpoint)
        case .fixed(let h): headers.add(name: "host", value: h)
        }
        let peer = request.connection.remoteAddress
        let trusted = peer.map(isTrusted) ?? false
        let peerIP = request.connection.remoteIP ?? "unknown"
        let priorXFF = trusted ? incoming[canonicalForm: "x-forwarded-for"].map(String.init) : []
        headers.add(name: "x-forwarded-for", value: (priorXFF + [peerIP]).joined(separator: ", "))
        let proto = (trusted ? incoming.first(name: "x-forwarded-proto") : nil) ?? request.connection.scheme
        headers.add(name: "x-forwarded-proto", value: proto)
        headers.add(name: "x-forwarded-host", value: (trusted ? incoming.first(name: "x-forwarded-host") : nil) ?? clientHost)
        var forwarded = trusted ? incoming["forwarded"] : []
        forwarded.append(
            "for=\(Self.forwardedNode(request.connection.remoteIP));proto=\(request.connection.scheme);host=\(Self.quotedIfNeeded(clientHost))"
        )
        headers.add(name: "forwarded", value: forwarded.joined(separator: ", "))
        var via = incoming["via"]
        via.append("\(request.connection.protocolVersion) \(viaName)")
        headers.add(name: "via", value: via.joined(separator: ", "))
        if let traceparent {
            headers.add(name: "traceparent", value: traceparent)
            if let state = incoming.first(name: "tracestate") { headers.add(name: "tracestate", value: state) }
        }
        apply(requestRules, to: &headers)
        var method = request.method
        if let upgrade = request.upgradeProtocol {
            headers.add(name: "connection", value: "upgrade")
            headers.add(name: "upgrade", value: upgrade)
            if request.version.major == 2 {
                // RFC 8441 → RFC 6455: the HTTP/1.1 handshake is a GET with a key of its own.
                method = .GET
                if upgrade.lowercased() == "websocket" {
                    if !headers.contains(name: "sec-websocket-key") { headers.add(name: "sec-websocket-key", value: Self.webSocketKey()) }
                    if !headers.contains(name: "sec-websocket-version") { headers.add(name: "sec-websocket-version", value: "13") }
                }
            }
            headers.remove(name: "content-length")
            headers.remove(name: "transfer-encoding")
        } else {
            frame(request, &headers)
        }
        return HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: headers)
    }

    /// Content-Length when the client gave one, chunked when a body of unknown length follows,
    /// `content-length: 0` for a bodiless POST (explicit framing: the upstream codec adds none of its own).
    private func frame(_ request: Request, _ headers: inout HTTPHeaders) {
        headers.remove(name: "content-length")
        headers.remove(name: "transfer-encoding")
        if let length = request.headers.first(name: "content-length") {
            headers.add(name: "content-length", value: length)
        } else if request.body.isComplete && request.body.receivedBytes == 0 && !request.body.hasFailed {
            if [.POST, .PUT, .PATCH].contains(request.method) { headers.add(name: "content-length", value: "0") }
        } else {
            headers.add(name: "transfer-encoding", value: "chunked")
        }
    }

    /// The response head the client gets: hop-by-hop fields out, and the fields the request layer
    /// writes itself (framing, Date, Server, the request id), then the route's rules.
    func responseHeaders(_ upstream: HTTPHeaders) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(upstream.count)
        let named = Self.connectionNamed(upstream)
        for (name, value) in upstream {
            if Self.isDroppedResponseField(name) || (!named.isEmpty && named.contains(Self.lower(name))) { continue }
            headers.add(name: name, value: value)
        }
        apply(responseRules, to: &headers)
        return headers
    }

    private func apply(_ rules: Configuration.ProxyAction.HeaderRules, to headers: inout HTTPHeaders) {
        guard !rules.isEmpty else { return }
        for name in rules.remove { headers.remove(name: name) }
        for (name, value) in rules.set { headers.replaceOrAdd(name: name, value: value) }
        for (name, value) in rules.add { headers.add(name: name, value: value) }
    }

    func isTrusted(_ address: SocketAddress) -> Bool {
        trustedProxies.trusts(address)
    }

    /// RFC 7239 §6: IPv6 in brackets and quotes; an unknown peer is `unknown`.
    static func forwardedNode(_ ip: String?) -> String {
        guard let ip else { return "unknown" }
        return ip.utf8.contains(UInt8(ascii: ":")) ? "\"[\(ip)]\"" : ip
    }

    /// A token as it is, anything else as a quoted-string (RFC 9110 §5.6.4: `"` and `\` escaped). Byte-level: a
    /// `host:port` needs quoting on every proxied request, and Foundation's `replacingOccurrences` cost ~1% of them.
    static func quotedIfNeeded(_ value: String) -> String {
        if value.utf8.allSatisfy({ HeaderSyntax.isTokenByte($0) }) { return value }
        var out = [UInt8]()
        out.reserveCapacity(value.utf8.count + 2)
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(byte)
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    /// 16 random bytes in base64 (RFC 6455 §4.1).
    static func webSocketKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
    }

    /// RFC 9110 §7.6.1 and the older hop-by-hop fields proxies still remove. `lower` is lower-case.
    static func isHopByHop(_ lower: String) -> Bool {
        switch lower.utf8.count {
        case 2: return lower == "te"
        case 7: return lower == "upgrade" || lower == "trailer"
        case 10: return lower == "connection" || lower == "keep-alive"
        case 16: return lower == "proxy-connection"
        case 17: return lower == "transfer-encoding"
        case 18: return lower == "proxy-authenticate"
        case 19: return lower == "proxy-authorization"
        default: return false
        }
    }

    /// Whether an upstream response field stays behind: hop-by-hop, or written by the request layer itself (framing,
    /// Date, Server, the request id). Compared in place, any case: upstreams such as nginx send `Server`, `Date`,
    /// `Content-Length`, and lower-casing each name made a `String` per field of every proxied response.
    static func isDroppedResponseField(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { b in
            switch b.count {
            case 2: return b.equalsLowercase("te")
            case 4: return b.equalsLowercase("date")
            case 6: return b.equalsLowercase("server")
            case 7: return b.equalsLowercase("upgrade") || b.equalsLowercase("trailer")
            case 10: return b.equalsLowercase("connection") || b.equalsLowercase("keep-alive")
            case 12: return b.equalsLowercase("x-request-id")
            case 14: return b.equalsLowercase("content-length")
            case 16: return b.equalsLowercase("proxy-connection")
            case 17: return b.equalsLowercase("transfer-encoding")
            case 18: return b.equalsLowercase("proxy-authenticate")
            case 19: return b.equalsLowercase("proxy-authorization")
            default: return false
            }
        }
    }

    /// The name in lower case, without allocating when it is already (as HTTP/2 and most servers send).
    static func lower(_ name: String) -> String {
        name.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? name.lowercased() : name
    }

    /// The field names listed in `Connection`, lower-cased; `close` and `keep-alive` (options, not
    /// fields) left out, so the usual `Connection: keep-alive` costs no set at all. Byte-level: this
    /// runs twice per proxied request.
    static func connectionNamed(_ headers: HTTPHeaders) -> Set<String> {
        var names: Set<String> = []
        for value in headers["connection"] {
            for token in value.utf8.split(separator: UInt8(ascii: ",")) {
                var t = token[...]
                while let f = t.first, f == 0x20 || f == 0x09 { t = t.dropFirst() }
                while let l = t.last, l == 0x20 || l == 0x09 { t = t.dropLast() }
                guard !t.isEmpty else { continue }
                let name = String(decoding: t.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
                if name != "keep-alive" && name != "close" { names.insert(name) }
            }
        }
        return names
    }
}

/// `NSRegularExpression` is documented thread-safe for matching; it is not marked `Sendable`.
struct CompiledRegex: @unchecked Sendable {
    let expression: NSRegularExpression
}

extension Array where Element == IPNetwork {
    /// Whether `address` is in one of these networks (`server.trusted_proxies`): the one check of a peer's trust,
    /// for the proxy's `X-Forwarded-*` and for rate limits keyed by client address.
    public func trusts(_ address: SocketAddress) -> Bool {
        guard !isEmpty, let bytes = Self.bytes(of: address) else { return false }
        return trusts(bytes: bytes)
    }

    /// The same for an address already parsed (`IPNetwork.parseAddress`).
    public func trusts(bytes: [UInt8]) -> Bool {
        contains { $0.contains(bytes) }
    }

    static func bytes(of address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let a):
            let v = UInt32(bigEndian: a.address.sin_addr.s_addr)
            return [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
        case .v6(let a):
            var addr = a.address.sin6_addr
            return Swift.withUnsafeBytes(of: &addr) { [UInt8]($0) }
        default:
            return nil
        }
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// Equal to `lower` (lower-case ASCII) ignoring the case of ASCII letters.
    func equalsLowercase(_ lower: StaticString) -> Bool {
        guard count == lower.utf8CodeUnitCount else { return false }
        let l = lower.utf8Start
        for i in 0..<count {
            let c = self[i]
            if (c >= 0x41 && c <= 0x5A ? c | 0x20 : c) != l[i] { return false }
        }
        return true
    }
}
