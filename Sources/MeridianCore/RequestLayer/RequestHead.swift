public import NIOHTTP1

/// A request head as both protocols give it to the request layer: the request line's parts and the fields.
public struct RequestHead: Sendable {
    public var method: HTTPMethod
    public var uri: String
    public var version: HTTPVersion
    public var fields: RequestFields

    public init(method: HTTPMethod, uri: String, version: HTTPVersion, fields: RequestFields) {
        self.method = method
        self.uri = uri
        self.version = version
        self.fields = fields
    }

    public init(_ head: HTTPRequestHead) {
        self.init(method: head.method, uri: head.uri, version: head.version, fields: RequestFields(head.headers))
    }

    /// As NIO's head (its fields decoded when they are lines).
    public var httpRequestHead: HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: uri, headers: fields.httpHeaders)
    }
}

/// Header fields read by name, as `HTTPHeaders` and ``RequestFields`` both read them: what code that only looks
/// fields up takes, so a request's fields as received need not be decoded into `HTTPHeaders` for it.
public protocol HeaderFieldLookup {
    func first(name: String) -> String?
    subscript(name: String) -> [String] { get }
    func contains(name: String) -> Bool
}

extension HTTPHeaders: HeaderFieldLookup {}
extension RequestFields: HeaderFieldLookup {}
