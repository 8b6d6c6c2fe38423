internal import Foundation
public import MeridianConfig
internal import MeridianCore
public import NIOCore
internal import NIOHTTP1

/// Builds the request head that goes upstream and filters the response head that comes back:
/// hop-by-hop fields out (RFC 9110 §7.6.1, including those `Connection` names), `X-Forwarded-*`
/// and `Forwarded` (RFC 7239) believed only from trusted proxies, `Via` (RFC 9110 §7.6.3), the
/// route's path rewrite, Host rule and header rules.
///
/// A class, one per route: each call through the route read a copy of this struct (its rules' arrays and strings),
/// three per proxied request, ~50 retains and releases.
final class RequestRewriter: Sendable {
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
            return request.uri.hasPrefix("/") ? request.uri : String(request.path) + (request.query.map { "?\($0)" } ?? "")
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

    /// The head sent upstream as NIO's head (an HTTP/2 upstream, header rules, an upgrade). `endpoint` is the
    /// `host:port` of the endpoint (for `host: upstream`). `target` is ``target(for:)`` of this request, worked
    /// out once per exchange. ``encodedUpstreamHead(for:target:endpoint:traceparent:allocator:)`` writes the same
    /// fields as bytes.
    func upstreamHead(for request: Request, target: String, endpoint: String, traceparent: String?) -> HTTPRequestHead {
        var sink = FieldListSink()
        sink.headers.reserveCapacity(request.fields.count + 6)
        forwardedFields(of: request, endpoint: endpoint, traceparent: traceparent, into: &sink)
        var headers = sink.headers
        apply(requestRules, to: &headers)
        // The framing is this hop's: a rule's Content-Length or Transfer-Encoding does not reach the upstream.
        headers.remove(name: "content-length")
        headers.remove(name: "transfer-encoding")
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
        } else if let (name, value) = Self.framing(request) {
            headers.add(name: name, value: value)
        }
        return HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: headers)
    }

    /// The HTTP/1.1 request head as bytes, written field by field from the client's head, for the usual request
    /// (no header rules, no upgrade; nil otherwise: ``upstreamHead(for:target:endpoint:traceparent:)`` then). No
    /// `HTTPHeaders` is built and no field is copied into a `String` of its own: building the head that way was
    /// ~10 of the ~30 allocations of a proxied request. Also says whether the request is a HEAD and is sent chunked
    /// (the upstream codec frames the body and the response by them).
    func encodedUpstreamHead(
        for request: Request, target: String, endpoint: String, traceparent: String?, allocator: ByteBufferAllocator
    ) -> (bytes: ByteBuffer, isHEAD: Bool, chunked: Bool)? {
        guard requestRules.isEmpty, request.upgradeProtocol == nil else { return nil }
        // An estimate, not a pass over the fields to add up their sizes (the buffer grows for a head with long ones).
        let size = 384 + target.utf8.count + viaName.utf8.count + (traceparent?.utf8.count ?? 0) + 48 * request.fields.count
        var sink = HeadBytesSink(out: allocator.buffer(capacity: size))
        sink.out.writeString(request.method.rawValue)
        sink.out.writeInteger(UInt8(ascii: " "))
        sink.out.writeString(target)
        sink.out.writeStaticString(" HTTP/1.1\r\n")
        forwardedFields(of: request, endpoint: endpoint, traceparent: traceparent, into: &sink)
        let framing = Self.framing(request)
        if let (name, value) = framing { sink.add(name, value) }
        sink.out.writeStaticString("\r\n")
        return (sink.out, request.method == .HEAD, framing?.value == "chunked")
    }

    /// The client's fields that go on (hop-by-hop ones and those `Connection` names out, and the ones this hop
    /// writes itself), then Host, `X-Forwarded-*`, `Forwarded`, `Via` and the trace context. One pass over the
    /// client's fields, comparing names in place, writes the ones that go on and finds the values the added fields
    /// build on; only when `Connection` names fields to leave out (rare: browsers and load balancers send
    /// `keep-alive` or `close`, which name none) are the written ones taken back and written again without those.
    private func forwardedFields<Sink: UpstreamFieldSink>(
        of request: Request, endpoint: String, traceparent: String?, into sink: inout Sink
    ) {
        let incoming = request.fields
        var clientHost: String?
        var priorProto: String?
        var priorHost: String?
        var traceState: String?
        var seen = FieldKinds()
        let mark = sink.mark
        // The fields' bytes copied as they came (no String per field); Strings only for the few values used below.
        incoming.forEachField { name, value in
            let kind = Self.kind(ofRequestField: name)
            switch kind {
            case .keep:
                sink.add(bytes: name, value)
                return
            case .drop: return
            case .host: if clientHost == nil { clientHost = String(decoding: value, as: UTF8.self) }
            case .forwardedProto: if priorProto == nil { priorProto = String(decoding: value, as: UTF8.self) }
            case .forwardedHost: if priorHost == nil { priorHost = String(decoding: value, as: UTF8.self) }
            case .traceState: if traceState == nil { traceState = String(decoding: value, as: UTF8.self) }
            case .connection, .forwardedFor, .forwarded, .via: break
            }
            seen.insert(kind)
        }
        if seen.contains(.connection) {
            let named = Self.connectionNamed(incoming)
            if !named.isEmpty {
                sink.rewind(to: mark)
                incoming.forEachField { name, value in
                    guard Self.kind(ofRequestField: name) == .keep else { return }
                    if named.contains(String(decoding: name.lazy.map(asciiFolded), as: UTF8.self)) { return }
                    sink.add(bytes: name, value)
                }
            }
        }
        let host = clientHost ?? request.host
        let connection = request.connection
        switch self.host {
        case .pass: sink.add("host", host)
        case .upstream: sink.add("host", endpoint)
        case .fixed(let h): sink.add("host", h)
        }
        let trusted = isTrusted(connection)
        sink.begin("x-forwarded-for")
        if trusted && seen.contains(.forwardedFor) {
            for value in incoming[canonicalForm: "x-forwarded-for"] {
                sink.append(String(value))
                sink.append(", ")
            }
        }
        sink.append(connection.remoteIP ?? "unknown")
        sink.end()
        sink.add("x-forwarded-proto", (trusted ? priorProto : nil) ?? connection.scheme)
        sink.add("x-forwarded-host", (trusted ? priorHost : nil) ?? host)
        sink.begin("forwarded")
        if trusted && seen.contains(.forwarded) {
            incoming.forEachField { name, value in
                guard Self.kind(ofRequestField: name) == .forwarded else { return }
                sink.append(bytes: value)
                sink.append(", ")
            }
        }
        sink.append("for=")
        if let ip = connection.remoteIP {
            // RFC 7239 §6: IPv6 in brackets and quotes.
            if ip.utf8.contains(UInt8(ascii: ":")) {
                sink.append("\"[")
                sink.append(ip)
                sink.append("]\"")
            } else {
                sink.append(ip)
            }
        } else {
            sink.append("unknown")
        }
        sink.append(";proto=")
        sink.append(connection.scheme)
        sink.append(";host=")
        sink.appendQuotedIfNeeded(host)
        sink.end()
        sink.begin("via")
        if seen.contains(.via) {
            incoming.forEachField { name, value in
                guard Self.kind(ofRequestField: name) == .via else { return }
                sink.append(bytes: value)
                sink.append(", ")
            }
        }
        sink.append(connection.protocolVersion)
        sink.append(" ")
        sink.append(viaName)
        sink.end()
        if let traceparent {
            sink.add("traceparent", traceparent)
            if let traceState { sink.add("tracestate", traceState) }
        }
    }

    /// What a client's field is to the upstream head: passed on, left out (hop-by-hop, HTTP/2 pseudo-fields kept by
    /// the request layer, `Expect`, `Content-Length`: the framing is written anew), or one the added fields build on.
    enum FieldKind: UInt8 {
        case keep, drop, host, connection, forwardedFor, forwardedProto, forwardedHost, forwarded, via, traceState
    }

    /// A set of ``FieldKind``s as bits (a `Set` would allocate).
    struct FieldKinds {
        private var bits: UInt16 = 0
        mutating func insert(_ kind: FieldKind) { bits |= 1 << kind.rawValue }
        func contains(_ kind: FieldKind) -> Bool { bits & (1 << kind.rawValue) != 0 }
    }

    /// ``FieldKind`` of a client's field name, any case, compared in place.
    static func kind(ofRequestField name: String) -> FieldKind {
        var name = name
        return name.withUTF8 { kind(ofRequestField: UnsafeRawBufferPointer($0)) }
    }

    /// ``FieldKind`` of a client's field name given as bytes.
    static func kind(ofRequestField b: UnsafeRawBufferPointer) -> FieldKind {
        if b.first == UInt8(ascii: ":") { return .drop }
        switch b.count {
        case 2: return b.equalsLowercase("te") ? .drop : .keep
        case 3: return b.equalsLowercase("via") ? .via : .keep
        case 4: return b.equalsLowercase("host") ? .host : .keep
        case 6: return b.equalsLowercase("expect") ? .drop : .keep
        case 7: return b.equalsLowercase("upgrade") || b.equalsLowercase("trailer") ? .drop : .keep
        case 9: return b.equalsLowercase("forwarded") ? .forwarded : .keep
        case 10:
            if b.equalsLowercase("connection") { return .connection }
            if b.equalsLowercase("tracestate") { return .traceState }
            return b.equalsLowercase("keep-alive") ? .drop : .keep
        case 11: return b.equalsLowercase("traceparent") ? .drop : .keep
        case 14: return b.equalsLowercase("content-length") ? .drop : .keep
        case 15: return b.equalsLowercase("x-forwarded-for") ? .forwardedFor : .keep
        case 16:
            if b.equalsLowercase("x-forwarded-host") { return .forwardedHost }
            return b.equalsLowercase("proxy-connection") ? .drop : .keep
        case 17:
            if b.equalsLowercase("x-forwarded-proto") { return .forwardedProto }
            return b.equalsLowercase("transfer-encoding") ? .drop : .keep
        case 18: return b.equalsLowercase("proxy-authenticate") ? .drop : .keep
        case 19: return b.equalsLowercase("proxy-authorization") ? .drop : .keep
        default: return .keep
        }
    }

    /// Content-Length when the client gave one, chunked when a body of unknown length follows,
    /// `content-length: 0` for a bodiless POST (explicit framing: the upstream codec adds none of its own).
    static func framing(_ request: Request) -> (name: String, value: String)? {
        if let length = request.fields.first(name: "content-length") {
            return ("content-length", length)
        } else if request.body.isComplete && request.body.receivedBytes == 0 && !request.body.hasFailed {
            switch request.method {  // (a switch: `[.POST, .PUT, .PATCH].contains` built and searched an array each time)
            case .POST, .PUT, .PATCH: return ("content-length", "0")
            default: return nil
            }
        } else {
            return ("transfer-encoding", "chunked")
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

    /// Whether the connection's peer is a trusted proxy. With none configured (the usual case) the peer's address is
    /// not even read: its getter retains the connection's shared box, once per proxied request.
    func isTrusted(_ connection: ConnectionInfo) -> Bool {
        guard !trustedProxies.isEmpty, let address = connection.remoteAddress else { return false }
        return trustedProxies.trusts(address)
    }

    /// A token as it is, anything else as a quoted-string (RFC 9110 §5.6.4: `"` and `\` escaped; the escaping is
    /// ``ByteBuffer/writeQuoted(_:)``'s, which the head written as bytes uses directly).
    static func quotedIfNeeded(_ value: String) -> String {
        if isToken(value) { return value }
        var out = ByteBuffer()
        out.writeQuoted(value)
        return String(buffer: out)
    }

    static func isToken(_ value: String) -> Bool { value.utf8.allSatisfy { HeaderSyntax.isTokenByte($0) } }

    /// 16 random bytes in base64 (RFC 6455 §4.1).
    static func webSocketKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
    }

    /// Whether an upstream response field stays behind: hop-by-hop, or written by the request layer itself (framing,
    /// Date, Server, the request id). Compared in place, any case: upstreams such as nginx send `Server`, `Date`,
    /// `Content-Length`, and lower-casing each name made a `String` per field of every proxied response.
    static func isDroppedResponseField(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { responseFieldKind($0) != .keep }
    }

    /// What an upstream response field is to the client: passed on, left behind, or one of the framing and
    /// connection fields the codec reads (``ResponseHeadFacts``) and also leaves behind.
    enum ResponseFieldKind { case keep, drop, contentLength, transferEncoding, connection }

    static func responseFieldKind(_ b: UnsafeBufferPointer<UInt8>) -> ResponseFieldKind {
        switch b.count {
        case 2: return b.equalsLowercase("te") ? .drop : .keep
        case 4: return b.equalsLowercase("date") ? .drop : .keep
        case 6: return b.equalsLowercase("server") ? .drop : .keep
        case 7: return b.equalsLowercase("upgrade") || b.equalsLowercase("trailer") ? .drop : .keep
        case 10:
            if b.equalsLowercase("connection") { return .connection }
            return b.equalsLowercase("keep-alive") ? .drop : .keep
        case 12: return b.equalsLowercase("x-request-id") ? .drop : .keep
        case 14: return b.equalsLowercase("content-length") ? .contentLength : .keep
        case 16: return b.equalsLowercase("proxy-connection") ? .drop : .keep
        case 17: return b.equalsLowercase("transfer-encoding") ? .transferEncoding : .keep
        case 18: return b.equalsLowercase("proxy-authenticate") ? .drop : .keep
        case 19: return b.equalsLowercase("proxy-authorization") ? .drop : .keep
        default: return .keep
        }
    }

    /// The name in lower case, without allocating when it is already (as HTTP/2 and most servers send).
    static func lower(_ name: String) -> String {
        name.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? name.lowercased() : name
    }

    /// The field names listed in `Connection`, lower-cased; `close` and `keep-alive` (options, not
    /// fields) left out, so the usual `Connection: keep-alive` costs no set at all. Byte-level, no array
    /// per value: this runs for every proxied request and response that has the field.
    static func connectionNamed(_ headers: HTTPHeaders) -> Set<String> {
        var names: Set<String> = []
        for (name, value) in headers where name.lowercasedASCIIEquals("connection") { insertNamed(value, into: &names) }
        return names
    }

    /// ``connectionNamed(_:)`` of a request's fields as received (no `HTTPHeaders` decoded for it).
    static func connectionNamed(_ fields: RequestFields) -> Set<String> {
        var names: Set<String> = []
        fields.forEachField { name, value in
            if name.equalsLowercase("connection") { insertNamed(String(decoding: value, as: UTF8.self), into: &names) }
        }
        return names
    }

    private static func insertNamed(_ value: String, into names: inout Set<String>) {
        forEachToken(value) { token in
            if !token.equalsLowercase("keep-alive") && !token.equalsLowercase("close") {
                names.insert(String(decoding: token.lazy.map(asciiFolded), as: UTF8.self))
            }
        }
    }

    /// Calls `body` with each non-empty element of a comma-separated list, OWS trimmed, as bytes of `value`.
    static func forEachToken(_ value: String, _ body: (Substring.UTF8View) -> Void) {
        let utf8 = value.utf8
        var start = utf8.startIndex
        while start < utf8.endIndex {
            let comma = utf8[start...].firstIndex(of: UInt8(ascii: ",")) ?? utf8.endIndex
            var t = Substring(value)[start..<comma].utf8
            while let f = t.first, f == 0x20 || f == 0x09 { t = t.dropFirst() }
            while let l = t.last, l == 0x20 || l == 0x09 { t = t.dropLast() }
            if !t.isEmpty { body(t) }
            start = comma == utf8.endIndex ? comma : utf8.index(after: comma)
        }
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
