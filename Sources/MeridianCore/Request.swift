public import NIOCore
public import NIOHTTP1

/// One request, the same for HTTP/1.1 and HTTP/2: what every responder and middleware sees.
public struct Request: Sendable {
    public var head: HTTPRequestHead
    /// The raw path of the target, before `?`, still percent-encoded.
    public var path: Substring
    /// The query string after `?`, if any.
    public var query: Substring?
    /// The host the request is for, lower-cased, without port or trailing dot.
    public var host: String
    /// `X-Request-ID`: the client's when well-formed, otherwise one made here.
    public var id: String
    public var connection: ConnectionInfo
    /// When the head was complete.
    public var startedAt: NIODeadline

    public var method: HTTPMethod { head.method }
    public var headers: HTTPHeaders { head.headers }
    public var version: HTTPVersion { head.version }
    public var isHead: Bool { head.method == .HEAD }

    public init(head: HTTPRequestHead, id: String, connection: ConnectionInfo, startedAt: NIODeadline = .now()) {
        self.head = head
        let uri = Substring(head.uri)
        if let q = uri.firstIndex(of: "?") {
            self.path = uri[..<q]
            self.query = uri[uri.index(after: q)...]
        } else {
            self.path = uri
            self.query = nil
        }
        self.host = Self.normalizedHost(head.headers.first(name: "host") ?? "")
        self.id = id
        self.connection = connection
        self.startedAt = startedAt
    }

    /// `Example.COM:8080.` -> `example.com`; IPv6 literals keep their brackets.
    public static func normalizedHost(_ value: String) -> String {
        var host = Substring(value)
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { host = host[...close] }
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        if host.hasSuffix(".") { host = host.dropLast() }
        return host.lowercased()
    }
}

/// What a request knows about the connection it came on.
public struct ConnectionInfo: Sendable {
    public var remoteAddress: SocketAddress?
    public var localAddress: SocketAddress?
    public var scheme: String
    /// `1.0`, `1.1` or `2`, as OpenTelemetry's `network.protocol.version` has it.
    public var protocolVersion: String
    /// Whether a file body may leave with sendfile(2) (plaintext HTTP/1.1 only).
    public var canSendFile: Bool

    public init(
        remoteAddress: SocketAddress?, localAddress: SocketAddress?, scheme: String = "http",
        protocolVersion: String = "1.1", canSendFile: Bool = false
    ) {
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        self.scheme = scheme
        self.protocolVersion = protocolVersion
        self.canSendFile = canSendFile
    }
}
