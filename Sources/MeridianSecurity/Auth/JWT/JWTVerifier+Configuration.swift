extension JWTVerifier {
    /// The claim checks a route's `jwt` auth applies once a signature has verified (RFC 7519 §4.1).
    public struct Configuration: Sendable {
        /// Accepted `iss` values (RFC 7519 §4.1.1). Empty: `iss` is not checked.
        public var issuers: [String]
        /// Accepted audiences; a token passes when its `aud` (a string or an array of strings)
        /// names at least one (RFC 7519 §4.1.3). Empty: `aud` is not checked, which lets a token
        /// minted for another service in. Configure it whenever the issuer sets `aud`.
        public var audiences: [String]
        /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (RFC 7519 §4.1.4 allows
        /// "some small leeway ... usually no more than a few minutes").
        public var leewaySeconds: Double
        /// Whether a token without `exp` is refused. On by default: a token that never expires
        /// cannot be revoked by waiting (RFC 8725 §3.10 recommends bounding lifetimes).
        public var requireExpiration: Bool
        /// Claims that must be present and not `null`, e.g. `sub` or `tenant`.
        public var requiredClaims: [String]
        /// Claims whose values are handed to the middleware to set as upstream request headers.
        public var forwardedClaims: [ForwardedClaim]

        public init(
            issuers: [String] = [],
            audiences: [String] = [],
            leewaySeconds: Double = 60,
            requireExpiration: Bool = true,
            requiredClaims: [String] = [],
            forwardedClaims: [ForwardedClaim] = []
        ) {
            self.issuers = issuers
            self.audiences = audiences
            self.leewaySeconds = leewaySeconds
            self.requireExpiration = requireExpiration
            self.requiredClaims = requiredClaims
            self.forwardedClaims = forwardedClaims
        }
    }

    /// A claim to pass upstream as a request header, e.g. `sub` as `X-User-Id`.
    ///
    /// Strings are passed as they are, numbers and booleans in their JSON text, and arrays of
    /// scalars joined with `,`. Objects, `null`, nested arrays and values with control characters
    /// (which could split a header) are not forwarded: the header is left out. The middleware
    /// should remove any incoming header of the same name first, so a client cannot supply it.
    public struct ForwardedClaim: Sendable, Hashable {
        public var claim: String
        public var header: String

        public init(claim: String, header: String) {
            self.claim = claim
            self.header = header
        }
    }
}
