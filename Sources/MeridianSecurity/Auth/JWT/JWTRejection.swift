/// Why a bearer token (or the `Authorization` header carrying it) was refused.
///
/// Maps onto the RFC 6750 §3.1 error codes: ``errorCode`` is `invalid_token` for anything wrong
/// with the token itself and `invalid_request` for a malformed `Authorization` header, and
/// ``description`` is safe to put in `error_description`: a fixed phrase per cause, never token
/// content or key material, and never a `"` or `\` (RFC 6750 §3: the value is a quoted-string
/// restricted to %x20-21 / %x23-5B / %x5D-7E). ``label`` is a short, bounded-cardinality name for
/// metrics. A struct wrapping a private enum so new causes can be added without breaking callers.
public struct JWTRejection: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Reason: Hashable, Sendable {
        case expired
        case notYetValid
        case issuedInFuture
        case badSignature
        case unknownKeyID
        case algorithmMismatch
        case unsupportedAlgorithm
        case algorithmNone
        case badAudience
        case badIssuer
        case missingClaim
        case malformed(Malformation)
        case malformedAuthorization
    }

    enum Malformation: Hashable, Sendable {
        case tooLarge
        case notCompactJWS
        case badEncoding
        case badHeader
        case unsupportedCriticalHeader
        case badClaimsSet
        case badClaimValue
    }

    private let reason: Reason

    private init(_ reason: Reason) {
        self.reason = reason
    }

    /// `exp` is at or before now, beyond the leeway (RFC 7519 §4.1.4).
    public static let expired = Self(.expired)
    /// `nbf` is after now, beyond the leeway (RFC 7519 §4.1.5).
    public static let notYetValid = Self(.notYetValid)
    /// `iat` is after now, beyond the leeway (RFC 7519 §4.1.6); counted as `not_yet_valid`.
    public static let issuedInFuture = Self(.issuedInFuture)
    /// The signature does not verify under any candidate key (RFC 7515 §5.2).
    public static let badSignature = Self(.badSignature)
    /// The header's `kid` names no configured key (RFC 7515 §4.1.4); a cue to refresh the JWKS,
    /// rate-limited by the caller.
    public static let unknownKeyID = Self(.unknownKeyID)
    /// No candidate key is bound to the header's `alg`.
    public static let algorithmMismatch = Self(.algorithmMismatch)
    /// The header's `alg` is not one the verifier implements; counted as `alg_mismatch`.
    public static let unsupportedAlgorithm = Self(.unsupportedAlgorithm)
    /// `alg: none` in any spelling: unsecured JWTs (RFC 7519 §6) are never accepted.
    public static let algorithmNone = Self(.algorithmNone)
    /// `aud` names none of the configured audiences (RFC 7519 §4.1.3).
    public static let badAudience = Self(.badAudience)
    /// `iss` is not one of the configured issuers (RFC 7519 §4.1.1).
    public static let badIssuer = Self(.badIssuer)
    /// A claim that configuration requires is absent or `null`.
    public static let missingClaim = Self(.missingClaim)
    /// The `Authorization` header is not `Bearer <b64token>` (RFC 6750 §2.1).
    public static let malformedAuthorization = Self(.malformedAuthorization)

    static func malformed(_ malformation: Malformation) -> Self {
        Self(.malformed(malformation))
    }

    /// Whether this is any kind of malformed token (too large, bad encoding, bad JSON, ...).
    public var isMalformedToken: Bool {
        if case .malformed = reason { return true }
        return false
    }

    /// The RFC 6750 §3.1 `error` attribute.
    public var errorCode: String {
        reason == .malformedAuthorization ? "invalid_request" : "invalid_token"
    }

    /// The status RFC 6750 §3.1 pairs with ``errorCode``: 400 for `invalid_request`, else 401.
    public var httpStatusCode: Int {
        reason == .malformedAuthorization ? 400 : 401
    }

    /// A metrics label: one of `expired`, `not_yet_valid`, `bad_signature`, `unknown_kid`,
    /// `alg_mismatch`, `alg_none`, `bad_audience`, `bad_issuer`, `missing_claim`, `malformed`.
    public var label: String {
        switch reason {
        case .expired: "expired"
        case .notYetValid, .issuedInFuture: "not_yet_valid"
        case .badSignature: "bad_signature"
        case .unknownKeyID: "unknown_kid"
        case .algorithmMismatch, .unsupportedAlgorithm: "alg_mismatch"
        case .algorithmNone: "alg_none"
        case .badAudience: "bad_audience"
        case .badIssuer: "bad_issuer"
        case .missingClaim: "missing_claim"
        case .malformed, .malformedAuthorization: "malformed"
        }
    }

    /// A short phrase for `error_description`; see the type's documentation for what it excludes.
    public var description: String {
        switch reason {
        case .expired: "token expired"
        case .notYetValid: "token not yet valid"
        case .issuedInFuture: "token issued in the future"
        case .badSignature: "signature verification failed"
        case .unknownKeyID: "unknown signing key"
        case .algorithmMismatch: "algorithm not allowed for signing key"
        case .unsupportedAlgorithm: "unsupported signing algorithm"
        case .algorithmNone: "unsigned tokens are not accepted"
        case .badAudience: "audience not accepted"
        case .badIssuer: "issuer not accepted"
        case .missingClaim: "required claim missing"
        case .malformedAuthorization: "malformed authorization header"
        case .malformed(.tooLarge): "token too large"
        case .malformed(.notCompactJWS): "token is not a compact JWS"
        case .malformed(.badEncoding): "token is not valid base64url"
        case .malformed(.badHeader): "invalid token header"
        case .malformed(.unsupportedCriticalHeader): "unsupported critical header"
        case .malformed(.badClaimsSet): "invalid token claims"
        case .malformed(.badClaimValue): "invalid claim value"
        }
    }
}
