public import MeridianCore
public import NIOCore
public import NIOHTTP1

/// One way of checking a request's credentials (`api_key`, `basic`, `jwt`): what ``AuthMiddleware`` runs.
///
/// An authenticator answers on the request's event loop; one whose check is slow (a password hash) runs it
/// elsewhere and answers with a future that completes on that loop.
public protocol RequestAuthenticator: Sendable {
    /// The upstream request headers the authenticator sets (the user, a key's name, claims). The middleware
    /// removes any the client sent under these names, so a client cannot claim an identity by sending them.
    var upstreamHeaders: [String] { get }
    /// Every result label ``AuthOutcome/denied(_:result:)`` may carry, for the metrics.
    var deniedResults: [String] { get }
    func authenticate(_ request: Request, context: RequestContext) -> AuthCheck
    /// The user a request claims to be before its credentials are checked (basic auth's user-id), for
    /// brute-force counting per user; nil when the credentials name no user.
    func claimedUser(_ request: Request) -> String?
}

extension RequestAuthenticator {
    public func claimedUser(_ request: Request) -> String? { nil }
}

public enum AuthCheck: Sendable {
    case now(AuthOutcome)
    case later(EventLoopFuture<AuthOutcome>)
}

public enum AuthOutcome: Sendable {
    /// Let the request through as `identity`, with these headers for the upstream.
    case allowed(identity: String, headers: [(name: String, value: String)])
    /// Answer with `response`; `result` is the metric label (`missing`, `invalid`, `expired`, …).
    case denied(_ response: Response, result: String)
}

extension Response {
    /// A 401 challenge (RFC 9110 §11.6.1): `WWW-Authenticate` tells the client which scheme to use.
    static func unauthorized(challenge: String) -> Response {
        var r = Response.text(.unauthorized, "unauthorized\n")
        r.headers.add(name: "www-authenticate", value: challenge)
        r.headers.add(name: "cache-control", value: "no-store")
        return r
    }
}
