internal import NIOHTTP1

/// What a connection needs to know about the listener that accepted it.
public struct ListenerContext: Sendable {
    public var name: String
    public var scheme: String
    /// Plaintext HTTP/1.1 may send file bodies with sendfile(2).
    public var canSendFile: Bool
    /// Added to every response on this listener (for example `strict-transport-security`).
    public var extraHeaders: [(String, String)]

    public init(name: String = "http", scheme: String = "http", canSendFile: Bool = true, extraHeaders: [(String, String)] = []) {
        self.name = name
        self.scheme = scheme
        self.canSendFile = canSendFile
        self.extraHeaders = extraHeaders
    }
}
