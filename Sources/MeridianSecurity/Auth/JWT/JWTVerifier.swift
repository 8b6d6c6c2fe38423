public import Foundation

/// Checks a bearer JWT (RFC 7519) signed as a compact JWS (RFC 7515) against a fixed key table.
///
/// This is the token check behind a route's `jwt` auth. It runs on the NIO event loop for every
/// request, so it is synchronous from end to end: no actor, no `async`, no executor hop, no I/O.
/// (jwt-kit 5's `JWTKeyCollection` is an actor with async verification, and its signers are not
/// public, so it cannot be used here; signatures are checked with swift-crypto directly.)
///
/// The verifier is an immutable value: to rotate keys after a JWKS refresh, build a new one and
/// swap it in. Following RFC 7515 §5.2 and RFC 8725 §3.1, the order is: bound the input, decode
/// the header, pick candidate keys by `kid` and by the algorithm each key is bound to, verify the
/// signature, and only then parse and check the claims.
public struct JWTVerifier: Sendable {
    /// Tokens longer than this are refused before any decoding. 16 KiB is far above real tokens
    /// (a few hundred bytes to a few KiB) and bounds the work an unauthenticated request causes.
    public static let maximumTokenBytes = 16 * 1024

    /// Every key, in the order given.
    public let keys: [Key]
    public let configuration: Configuration

    private let keysByID: [String: [Key]]
    private let keysByAlgorithm: [JWSAlgorithm: [Key]]
    let issuers: Set<String>
    let audiences: Set<String>

    /// A verifier over `keys`.
    ///
    /// Several keys may share a `kid` if they are bound to different algorithms (RFC 7517 §4.5
    /// allows this); a token with that `kid` is checked with the one matching its `alg`.
    public init(keys: [Key], configuration: Configuration = Configuration()) {
        self.keys = keys
        self.configuration = configuration
        var keysByID: [String: [Key]] = [:]
        var keysByAlgorithm: [JWSAlgorithm: [Key]] = [:]
        for key in keys {
            if let id = key.id { keysByID[id, default: []].append(key) }
            keysByAlgorithm[key.algorithm, default: []].append(key)
        }
        self.keysByID = keysByID
        self.keysByAlgorithm = keysByAlgorithm
        self.issuers = Set(configuration.issuers)
        self.audiences = Set(configuration.audiences)
    }

    /// Verifies `token` as of `now` (seconds since 1970-01-01T00:00:00Z, the RFC 7519 §2
    /// NumericDate scale) and returns what the request needs from it.
    ///
    /// - Throws: ``JWTRejection`` with `invalid_token` for anything wrong with the token.
    public func verify(_ token: Substring, now: Double) throws(JWTRejection) -> VerifiedToken {
        let jws = try CompactJWS(token, maximumBytes: Self.maximumTokenBytes)
        try verifySignature(of: jws)

        guard let payload = Base64URL.decode(jws.payloadSegment) else { throw .malformed(.badEncoding) }
        guard case .object(let claims)? = JSONValue.parse(payload) else { throw .malformed(.badClaimsSet) }
        return try checkClaims(claims, now: now, keyID: jws.keyID, algorithm: jws.algorithm)
    }

    public func verify(_ token: String, now: Double) throws(JWTRejection) -> VerifiedToken {
        try verify(token[...], now: now)
    }

    public func verify(_ token: Substring, now: Date) throws(JWTRejection) -> VerifiedToken {
        try verify(token, now: now.timeIntervalSince1970)
    }

    public func verify(_ token: String, now: Date) throws(JWTRejection) -> VerifiedToken {
        try verify(token[...], now: now.timeIntervalSince1970)
    }

    /// Picks the candidate keys and checks the signature with each until one verifies.
    ///
    /// With a `kid`, only keys of that id whose algorithm is the header's `alg` are candidates:
    /// an unknown id is ``JWTRejection/unknownKeyID`` (worth a rate-limited JWKS refresh), a known
    /// id bound to another algorithm is ``JWTRejection/algorithmMismatch``. Without a `kid`, every
    /// key bound to the header's `alg` is tried, so cost grows with the number of such keys.
    private func verifySignature(of jws: CompactJWS) throws(JWTRejection) {
        let candidates: [Key]
        if let keyID = jws.keyID {
            guard let keys = keysByID[keyID] else { throw .unknownKeyID }
            candidates = keys
        } else {
            guard let keys = keysByAlgorithm[jws.algorithm] else { throw .algorithmMismatch }
            candidates = keys
        }
        guard candidates.contains(where: { $0.algorithm == jws.algorithm }) else { throw .algorithmMismatch }
        guard let signature = Base64URL.decode(jws.signatureSegment) else { throw .malformed(.badEncoding) }
        let signingInput = jws.signingInput
        for key in candidates where key.algorithm == jws.algorithm {
            if key.isValidSignature(signature, for: signingInput) { return }
        }
        throw .badSignature
    }
}
