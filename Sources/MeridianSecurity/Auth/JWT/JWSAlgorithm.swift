/// A JWS signature algorithm that a verification key can be bound to (RFC 7518 §3.1, RFC 8037 §3.1).
///
/// Each ``JWTVerifier/Key`` carries exactly one of these, and a token is only checked against a
/// key whose algorithm equals the token's `alg` header. That binding is what defeats algorithm
/// confusion (an HS256 token "signed" with an RSA public key's bytes as the HMAC secret) and
/// `alg: none`, which has no value here at all. A struct rather than a public enum so that adding
/// an algorithm does not break a caller's exhaustive `switch`.
public struct JWSAlgorithm: Hashable, Sendable, CustomStringConvertible {
    /// HMAC with SHA-2 (RFC 7518 §3.2).
    public static let hs256 = Self(.hs256)
    public static let hs384 = Self(.hs384)
    public static let hs512 = Self(.hs512)
    /// RSASSA-PKCS1-v1_5 with SHA-2 (RFC 7518 §3.3).
    public static let rs256 = Self(.rs256)
    public static let rs384 = Self(.rs384)
    public static let rs512 = Self(.rs512)
    /// RSASSA-PSS with SHA-2, MGF1 with the same hash, salt as long as the hash (RFC 7518 §3.5).
    public static let ps256 = Self(.ps256)
    public static let ps384 = Self(.ps384)
    public static let ps512 = Self(.ps512)
    /// ECDSA on P-256 with SHA-256 and P-384 with SHA-384 (RFC 7518 §3.4).
    public static let es256 = Self(.es256)
    public static let es384 = Self(.es384)
    /// EdDSA; only the Ed25519 curve is accepted (RFC 8037 §3.1).
    public static let edDSA = Self(.edDSA)

    /// Every algorithm the verifier implements.
    public static let all: [JWSAlgorithm] = Backing.allCases.map(Self.init)

    enum Backing: String, CaseIterable, Hashable, Sendable {
        case hs256 = "HS256"
        case hs384 = "HS384"
        case hs512 = "HS512"
        case rs256 = "RS256"
        case rs384 = "RS384"
        case rs512 = "RS512"
        case ps256 = "PS256"
        case ps384 = "PS384"
        case ps512 = "PS512"
        case es256 = "ES256"
        case es384 = "ES384"
        case edDSA = "EdDSA"
    }

    let backing: Backing

    private init(_ backing: Backing) {
        self.backing = backing
    }

    /// The algorithm with this `alg` name, or `nil` for anything unsupported, including `none`.
    ///
    /// Names are case-sensitive (RFC 7515 §4.1.1): `hs256` is not `HS256`.
    public init?(name: String) {
        guard let backing = Backing(rawValue: name) else { return nil }
        self.backing = backing
    }

    /// The `alg` header value, e.g. `RS256`.
    public var name: String { backing.rawValue }

    public var description: String { name }

    var isHMAC: Bool {
        switch backing {
        case .hs256, .hs384, .hs512: true
        default: false
        }
    }

    var isRSA: Bool {
        switch backing {
        case .rs256, .rs384, .rs512, .ps256, .ps384, .ps512: true
        default: false
        }
    }

    /// Bytes of the hash output; RFC 7518 §3.2 requires HMAC keys at least this long.
    var hashByteCount: Int {
        switch backing {
        case .hs256, .rs256, .ps256, .es256, .edDSA: 32
        case .hs384, .rs384, .ps384, .es384: 48
        case .hs512, .rs512, .ps512: 64
        }
    }
}
