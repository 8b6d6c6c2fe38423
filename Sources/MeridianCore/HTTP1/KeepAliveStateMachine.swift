public import NIOHTTP1

/// Decides, request by request, whether a connection stays open (RFC 9112 §9.3), and what the
/// response must say about it. Pure: events in, decisions out.
public struct KeepAliveStateMachine: Sendable {
    public enum Decision: Equatable, Sendable {
        /// Keep the connection; HTTP/1.0 needs `Connection: keep-alive` said explicitly.
        case keepAlive(announce: Bool)
        /// Send `Connection: close` and close once the response is written.
        case close
    }

    /// Requests served before the connection closes; a reload changes it for the next request.
    public var maxRequests: Int
    private var served = 0
    private var draining = false
    private var closing = false

    public init(maxRequests: Int) {
        self.maxRequests = maxRequests
    }

    /// Called when a request head arrives; the decision goes on its response.
    public mutating func requestReceived(version: HTTPVersion, connectionHeader: [String]) -> Decision {
        served += 1
        var close = false
        var keepAliveToken = false
        for value in connectionHeader {
            for token in value.split(separator: ",") {
                let t = token.trimmingOWS()
                if t.lowercasedASCIIEquals("close") { close = true }
                if t.lowercasedASCIIEquals("keep-alive") { keepAliveToken = true }
            }
        }
        if version.major == 1 && version.minor == 0 && !keepAliveToken { close = true }
        if close || closing || draining || served >= maxRequests {
            closing = true
            return .close
        }
        return .keepAlive(announce: version.minor == 0)
    }

    /// Shutdown began: the next response closes, and an idle connection closes at once.
    public mutating func drain() { draining = true }

    /// An error response forces a close (framing can no longer be trusted).
    public mutating func forceClose() { closing = true }

    public var isDraining: Bool { draining }
    public var isClosing: Bool { closing || draining }
}
