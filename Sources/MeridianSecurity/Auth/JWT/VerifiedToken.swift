/// What the middleware needs from a token that passed every check.
///
/// Deliberately not the whole claims set: the request path keeps only the subject, identifying
/// details for logs, and the configured forwarded claims already rendered as header values.
public struct VerifiedToken: Sendable {
    /// `sub` (RFC 7519 §4.1.2), if the token has one.
    public let subject: String?
    /// `iss` (RFC 7519 §4.1.1), if the token has one.
    public let issuer: String?
    /// `exp` as seconds since the epoch (RFC 7519 §4.1.4), if the token has one.
    public let expiresAt: Double?
    /// The `kid` of the key that verified the token, if it has one.
    public let keyID: String?
    /// The algorithm the signature was verified with.
    public let algorithm: JWSAlgorithm
    /// Configured forwarded claims present in the token, in configuration order, as
    /// (header name, header value) pairs ready to set on the upstream request.
    public let forwardedClaims: [(header: String, value: String)]
}
