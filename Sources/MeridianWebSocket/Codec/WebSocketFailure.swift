/// The close code and reason the server sends when the client broke a rule (RFC 6455 §7.4.1).
///
/// RFC 6455 §7.1.7 has the endpoint that fails the connection send a close frame with a status code that says why,
/// so every check in the codec ends in one of these rather than in an error enum the server would have to map. The
/// reason goes on the wire: keep it short (a close frame's reason has room for 123 bytes, §5.5) and free of anything
/// the client sent.
public struct WebSocketFailure: Error, Sendable, Equatable {
    /// 1002 protocol error, 1007 invalid payload, 1009 too big (RFC 6455 §7.4.1).
    public var code: UInt16
    /// Short, at most 123 bytes of UTF-8, e.g. "unmasked client frame".
    public var reason: String

    public init(code: UInt16, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// 1002: the client broke the framing or messaging rules (RFC 6455 §7.4.1).
    public static func protocolError(_ reason: String) -> WebSocketFailure {
        WebSocketFailure(code: 1002, reason: reason)
    }

    /// 1007: a text message or close reason is not UTF-8, or compressed data is corrupt (RFC 6455 §7.4.1).
    public static func invalidPayload(_ reason: String) -> WebSocketFailure {
        WebSocketFailure(code: 1007, reason: reason)
    }

    /// 1009: a frame or message is larger than the server accepts (RFC 6455 §7.4.1).
    public static func tooBig(_ reason: String) -> WebSocketFailure {
        WebSocketFailure(code: 1009, reason: reason)
    }
}

extension WebSocketFailure: CustomStringConvertible {
    /// "1002 unmasked client frame", for logs.
    public var description: String { "\(code) \(reason)" }
}
