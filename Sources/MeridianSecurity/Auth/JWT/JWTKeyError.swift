/// A verification key that could not be built from configuration or a JWK Set.
///
/// Raised at configuration (or JWKS refresh) time, never on the request path. The description
/// says what is wrong and what to do; it names the key by `kid` when there is one but never
/// includes key material. The config layer adds where the key came from (file:line or JWKS URL).
public struct JWTKeyError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Reason: Hashable, Sendable {
        case invalidPEM
        case privateKeyGiven
        case unsupportedPEMType(String)
        case unsupportedPublicKey
        case rsaKeyTooSmall
        case hmacSecretTooShort(algorithm: String, minimumBytes: Int)
        case algorithmNotForKey(algorithm: String, keyType: String)
        case invalidJWKSDocument
        case invalidJWK(String)
        case unsupportedJWK(String)
    }

    private let reason: Reason
    /// The `kid` of the key concerned, when known.
    public let keyID: String?

    private init(_ reason: Reason, keyID: String?) {
        self.reason = reason
        self.keyID = keyID
    }

    static func invalidPEM(keyID: String?) -> Self { Self(.invalidPEM, keyID: keyID) }
    static func privateKeyGiven(keyID: String?) -> Self { Self(.privateKeyGiven, keyID: keyID) }
    static func unsupportedPEMType(_ label: String, keyID: String?) -> Self {
        Self(.unsupportedPEMType(label), keyID: keyID)
    }
    static func unsupportedPublicKey(keyID: String?) -> Self { Self(.unsupportedPublicKey, keyID: keyID) }
    static func rsaKeyTooSmall(keyID: String?) -> Self { Self(.rsaKeyTooSmall, keyID: keyID) }
    static func hmacSecretTooShort(_ algorithm: JWSAlgorithm, keyID: String?) -> Self {
        Self(.hmacSecretTooShort(algorithm: algorithm.name, minimumBytes: algorithm.hashByteCount), keyID: keyID)
    }
    static func algorithmNotForKey(_ algorithm: String, keyType: String, keyID: String?) -> Self {
        Self(.algorithmNotForKey(algorithm: algorithm, keyType: keyType), keyID: keyID)
    }
    static let invalidJWKSDocument = Self(.invalidJWKSDocument, keyID: nil)
    static func invalidJWK(_ detail: String, keyID: String?) -> Self { Self(.invalidJWK(detail), keyID: keyID) }
    static func unsupportedJWK(_ detail: String, keyID: String?) -> Self {
        Self(.unsupportedJWK(detail), keyID: keyID)
    }

    public var description: String {
        let subject = keyID.map { "key '\(Self.printable($0))'" } ?? "key"
        switch reason {
        case .invalidPEM:
            return "\(subject): not a PEM public key or certificate; expect '-----BEGIN PUBLIC KEY-----' "
                + "or '-----BEGIN CERTIFICATE-----'"
        case .privateKeyGiven:
            return "\(subject): a private key was given; configure the issuer's public key or certificate instead"
        case .unsupportedPEMType(let label):
            return "\(subject): PEM type '\(label)' is not supported; use 'PUBLIC KEY' or 'CERTIFICATE'"
        case .unsupportedPublicKey:
            return "\(subject): unsupported public key type; use RSA (2048+ bits), EC P-256/P-384 or Ed25519"
        case .rsaKeyTooSmall:
            return "\(subject): RSA keys must be at least 2048 bits (RFC 7518 section 3.3)"
        case .hmacSecretTooShort(let algorithm, let minimumBytes):
            return "\(subject): an \(algorithm) secret must be at least \(minimumBytes) bytes (RFC 7518 section 3.2)"
        case .algorithmNotForKey(let algorithm, let keyType):
            return "\(subject): algorithm \(algorithm) cannot be used with a \(keyType) key"
        case .invalidJWKSDocument:
            return "JWKS: not a JSON object with a 'keys' array (RFC 7517 section 5)"
        case .invalidJWK(let detail):
            return "JWKS \(subject): \(detail)"
        case .unsupportedJWK(let detail):
            return "JWKS \(subject): skipped, \(detail)"
        }
    }

    /// `text` cut to 64 characters with anything but printable ASCII replaced, so a value read
    /// from a fetched JWKS cannot forge log lines.
    static func printable(_ text: String) -> String {
        let limited = text.unicodeScalars.prefix(64).map { scalar in
            (0x20..<0x7F).contains(scalar.value) ? Character(scalar) : "?"
        }
        return String(limited) + (text.unicodeScalars.count > 64 ? "..." : "")
    }
}
