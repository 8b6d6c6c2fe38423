public import NIOHTTP1

/// A request that cannot be served as sent: the status to answer with and why.
///
/// After a parse error the connection is always closed: once framing is in doubt, reading on
/// could let a smuggled request through (RFC 9112 §11.2).
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: HTTPResponseStatus
    public let reason: String

    public init(_ status: HTTPResponseStatus, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status.code) \(status.reasonPhrase): \(reason)" }

    static func bad(_ reason: String) -> HTTPParseError { HTTPParseError(.badRequest, reason) }
}
