public import NIOCore
public import NIOHTTP1
internal import Synchronization

/// One request, the same for HTTP/1.1 and HTTP/2: what every responder and middleware sees.
///
/// A class with immutable fields: it is handed through responders, futures and observers, and
/// a copy of a reference is one retain where a struct this size costs one per field.
public final class Request: Sendable {
    public let method: HTTPMethod
    /// The request target as received (origin-form; an absolute-form target's path, its authority in Host).
    public let uri: String
    public let version: HTTPVersion
    /// The header fields: an HTTP/1.1 request's as the bytes received, an HTTP/2 request's decoded (see
    /// ``RequestFields``). Code on every request's path reads these; ``headers`` decodes them for the rest.
    public let fields: RequestFields
    /// ``headers`` for a request whose fields are lines: decoded on first use, once (the request may be read on
    /// other threads, hence the atomic reference).
    private let decoded = AtomicLazyReference<DecodedHeaders>()
    /// The path of the target before `?`, normalised for routing (see ``PathNormalizer``): still
    /// percent-encoded except for unreserved characters, with dot segments removed.
    public let path: Substring
    /// Set when the raw path could not be normalised; such a request is answered 400.
    public let pathError: PathNormalizer.Failure?
    /// The query string after `?`, if any.
    public let query: Substring?
    /// The host the request is for, lower-cased, without port or trailing dot.
    public let host: String
    /// `X-Request-ID`: the client's when well-formed, otherwise one made here.
    public let id: String
    public let connection: ConnectionInfo
    /// When the head was complete.
    public let startedAt: NIODeadline
    /// The trace this request belongs to; nil when tracing is off.
    public let trace: TraceContext?
    /// The body, read piece by piece on the request's event loop (``RequestBody/none`` when the
    /// request has none).
    public let body: RequestBody

    /// The fields as `HTTPHeaders` (decoded from the received bytes on first use for HTTP/1.1 requests).
    public var headers: HTTPHeaders {
        if let headers = fields.decoded { return headers }
        if let done = decoded.load() { return done.headers }
        return decoded.storeIfNil(DecodedHeaders(fields.httpHeaders)).headers
    }
    /// Whether ``headers`` has decoded lines (tests check the request path leaves them undecoded).
    var headersDecoded: Bool { decoded.load() != nil }
    /// The head as NIO's type (its fields as ``headers``).
    public var head: HTTPRequestHead { HTTPRequestHead(version: version, method: method, uri: uri, headers: headers) }
    public var isHead: Bool { method == .HEAD }

    private final class DecodedHeaders: Sendable {
        let headers: HTTPHeaders
        init(_ headers: HTTPHeaders) { self.headers = headers }
    }

    /// The protocol the client asks to switch to: the `Upgrade` token of an HTTP/1.1 request with
    /// `Connection: upgrade`, or the `:protocol` of an HTTP/2 extended CONNECT (RFC 8441).
    public var upgradeProtocol: String? { upgradeProtocols.first }

    /// Whether the client asked to switch to `name` (any of its `Upgrade` tokens, case aside).
    public func asksToSwitch(to name: String) -> Bool {
        upgradeProtocols.contains { $0.lowercased() == name.lowercased() }
    }

    /// Every protocol offered: the `Upgrade` tokens (version suffix dropped) of an HTTP/1.1
    /// request with `Connection: upgrade` (RFC 9110 §7.8), or the `:protocol` of an extended CONNECT.
    private var upgradeProtocols: [String] {
        if version.major == 2 {
            return method == .CONNECT ? fields[":protocol"] : []
        }
        guard version.minor >= 1, fields.contains(name: "upgrade") else { return [] }
        let connection = fields["connection"].flatMap { $0.split(separator: ",") }
        guard connection.contains(where: { $0.trimmingOWS().lowercasedASCIIEquals("upgrade") }) else { return [] }
        return fields["upgrade"].flatMap { $0.split(separator: ",") }.map { token in
            let t = token.trimmingOWS()
            return String(t.split(separator: "/", maxSplits: 1).first ?? Substring(t))
        }
    }

    public convenience init(
        head: HTTPRequestHead, id: String, connection: ConnectionInfo, startedAt: NIODeadline = .now(), trace: TraceContext? = nil,
        body: RequestBody = .none
    ) {
        self.init(head: RequestHead(head), id: id, connection: connection, startedAt: startedAt, trace: trace, body: body)
    }

    public init(
        head: RequestHead, id: String, connection: ConnectionInfo, startedAt: NIODeadline = .now(), trace: TraceContext? = nil,
        body: RequestBody = .none
    ) {
        self.method = head.method
        self.uri = head.uri
        self.version = head.version
        self.fields = head.fields
        self.body = body
        self.trace = trace
        let uri = Substring(head.uri)
        let rawPath: Substring
        if let q = uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
            rawPath = uri[..<q]
            self.query = uri[uri.utf8.index(after: q)...]
        } else {
            rawPath = uri
            self.query = nil
        }
        switch PathNormalizer.normalize(rawPath) {
        case .success(let p):
            self.path = p
            self.pathError = nil
        case .failure(let e):
            self.path = rawPath
            self.pathError = e
        }
        self.host = Self.normalizedHost(head.fields.first(name: "host") ?? "")
        self.id = id
        self.connection = connection
        self.startedAt = startedAt
    }

    /// `Example.COM:8080.` -> `example.com`; IPv6 literals keep their brackets. Works on the UTF-8 bytes in place
    /// (String.UTF8View's index walking cost more than the rest of routing together); the value itself comes back,
    /// with no new String, when it is already in that form.
    public static func normalizedHost(_ value: String) -> String {
        value.withUTF8Bytes { normalizedHost(bytes: $0, of: value) }
    }

    private static func normalizedHost(bytes b: UnsafeRawBufferPointer, of value: String) -> String {
        var end = b.count
        if b.first == UInt8(ascii: "[") {
            if let close = b.firstIndex(of: UInt8(ascii: "]")) { end = close + 1 }
        } else if let colon = b.lastIndex(of: UInt8(ascii: ":")) {
            end = colon
        }
        if end > 0, b[end - 1] == UInt8(ascii: ".") { end -= 1 }
        var upper = false
        for i in 0..<end where b[i] >= 0x41 && b[i] <= 0x5A {
            upper = true
            break
        }
        if !upper && end == b.count { return value }
        let host = UnsafeRawBufferPointer(rebasing: b[..<end])
        guard upper else { return String(decoding: host, as: UTF8.self) }
        return String(unsafeUninitializedCapacity: end) { out in
            for i in 0..<end { out[i] = host[i] >= 0x41 && host[i] <= 0x5A ? host[i] | 0x20 : host[i] }
            return end
        }
    }
}

/// What a request knows about the connection it came on.
public struct ConnectionInfo: Sendable {
    /// What stays the same for the connection's requests.
    private struct Shared {
        var remoteAddress: SocketAddress?
        var remoteIP: String?
        var localAddress: SocketAddress?
        var scheme: String
        var canSendFile: Bool
        var tlsVersion: String?
        var listener = ""
    }

    /// `Shared` in one box: every request keeps a copy of this struct, and a copy is then one retain instead of one
    /// per field. Changed only through ``shared``'s `_modify`, which copies the box first unless this value is its
    /// only owner.
    private final class Box: @unchecked Sendable {
        var value: Shared
        init(_ value: Shared) { self.value = value }
    }

    private var box: Box

    private var shared: Shared {
        get { box.value }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = Box(box.value) }
            yield &box.value
        }
    }

    public var remoteAddress: SocketAddress? {
        get { box.value.remoteAddress }
        set {
            shared.remoteAddress = newValue
            shared.remoteIP = newValue?.ipAddress
        }
    }
    /// The remote address's IP as text, made once per connection (`SocketAddress.ipAddress` runs `inet_ntop` each
    /// time it is read: the proxy needs it for every request's `X-Forwarded-For` and `Forwarded`).
    public var remoteIP: String? { box.value.remoteIP }
    public var localAddress: SocketAddress? {
        get { box.value.localAddress }
        set { shared.localAddress = newValue }
    }
    public var scheme: String {
        get { box.value.scheme }
        set { shared.scheme = newValue }
    }
    /// `1.0`, `1.1` or `2`, as OpenTelemetry's `network.protocol.version` has it (the request's, so kept outside the
    /// shared box).
    public var protocolVersion: String
    /// Whether a file body may leave with sendfile(2) (plaintext HTTP/1.1 only).
    public var canSendFile: Bool {
        get { box.value.canSendFile }
        set { shared.canSendFile = newValue }
    }
    /// `1.2` or `1.3` on TLS connections, as OpenTelemetry's `tls.protocol.version` has it.
    public var tlsVersion: String? {
        get { box.value.tlsVersion }
        set { shared.tlsVersion = newValue }
    }
    /// The name of the listener that accepted the connection.
    public var listener: String {
        get { box.value.listener }
        set { shared.listener = newValue }
    }

    public init(
        remoteAddress: SocketAddress?, localAddress: SocketAddress?, scheme: String = "http",
        protocolVersion: String = "1.1", canSendFile: Bool = false
    ) {
        self.box = Box(
            Shared(
                remoteAddress: remoteAddress, remoteIP: remoteAddress?.ipAddress, localAddress: localAddress, scheme: scheme,
                canSendFile: canSendFile
            )
        )
        self.protocolVersion = protocolVersion
    }
}
