/// One request as the WAF sees it: the head, a bounded prefix of the body, and both ends of the connection.
///
/// A plain value so the request layer can build it from either protocol without the WAF knowing
/// which one it was. For HTTP/2 pass `:authority` as a `host` header (RFC 9113 §8.3.1 makes it the
/// Host equivalent): CRS rule 920280 scores a request without Host, and 920350 one whose Host is a
/// numeric address. Header names may be in any case; ModSecurity compares them case-insensitively.
public struct WAFRequest: Sendable {
    /// The protocol version, as ModSecurity's `REQUEST_PROTOCOL` spells it after `HTTP/`.
    ///
    /// CRS 920430 compares it with `tx.allowed_http_versions` (HTTP/1.0 HTTP/1.1 HTTP/2 HTTP/2.0).
    public enum HTTPVersion: String, Sendable, Hashable {
        case http1Dot0 = "1.0"
        case http1Dot1 = "1.1"
        case http2 = "2.0"
    }

    public var method: String
    /// The request target as sent: path and query, percent-encoding intact (ModSecurity decodes it).
    public var uri: String
    public var version: HTTPVersion
    public var headers: [(name: String, value: String)]
    /// The body prefix the caller buffered, or nil when the request has none. The engine inspects
    /// at most `Configuration.maxBodyBytes` of it.
    public var body: [UInt8]?
    public var clientAddress: String
    public var clientPort: Int
    public var serverAddress: String
    public var serverPort: Int
    /// Meridian's request id; ModSecurity uses it as the transaction's `UNIQUE_ID`.
    public var requestID: String

    public init(
        method: String,
        uri: String,
        version: HTTPVersion = .http1Dot1,
        headers: [(name: String, value: String)] = [],
        body: [UInt8]? = nil,
        clientAddress: String,
        clientPort: Int,
        serverAddress: String,
        serverPort: Int,
        requestID: String
    ) {
        self.method = method
        self.uri = uri
        self.version = version
        self.headers = headers
        self.body = body
        self.clientAddress = clientAddress
        self.clientPort = clientPort
        self.serverAddress = serverAddress
        self.serverPort = serverPort
        self.requestID = requestID
    }
}
