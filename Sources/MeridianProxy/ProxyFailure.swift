internal import NIOHTTP1

/// Why a try at an upstream failed, and what the client is told when no retry follows: 502 for
/// connection failures and invalid responses, 504 for timeouts (nginx's and Envoy's split).
public struct ProxyFailure: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        /// The connection could not be made; nothing was sent.
        case connectFailure
        case connectTimeout
        /// The connection closed or reset before the response was complete.
        case reset
        /// No response head within first_byte (or the per-try timeout).
        case firstByteTimeout
        /// No response byte within the idle timeout.
        case idleTimeout
        /// The response was not valid HTTP/1.1: bad framing, both Content-Length and
        /// Transfer-Encoding, an oversized head.
        case invalidResponse
        /// The total timeout.
        case totalTimeout
    }

    let kind: Kind
    let detail: String

    init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// The access log's `upstream_error`.
    public var code: String {
        switch kind {
        case .connectFailure: return "connect_failure"
        case .connectTimeout, .firstByteTimeout, .idleTimeout, .totalTimeout: return "timeout"
        case .reset: return "reset"
        case .invalidResponse: return "invalid_response"
        }
    }

    var status: HTTPResponseStatus {
        switch kind {
        case .connectTimeout, .firstByteTimeout, .idleTimeout, .totalTimeout: return .gatewayTimeout
        case .connectFailure, .reset, .invalidResponse: return .badGateway
        }
    }

    public var description: String { "\(code): \(detail)" }
}
