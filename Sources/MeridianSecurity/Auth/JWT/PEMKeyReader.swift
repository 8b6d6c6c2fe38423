internal import Crypto
internal import X509
internal import _CryptoExtras

/// Reads a public verification key out of a PEM document (RFC 7468).
///
/// swift-certificates parses both forms an issuer hands out, a SubjectPublicKeyInfo (`PUBLIC
/// KEY`, RFC 7468 §13) and a certificate (`CERTIFICATE`, §5), and tells the key types apart, so
/// one path covers RSA, EC and Ed25519 (RFC 8410). Private keys are refused with a message, since
/// pasting the signing key into a gateway config is a mistake worth catching early.
enum PEMKeyReader {
    static func material(fromPEM pem: String, keyID: String?) throws(JWTKeyError) -> JWTVerifier.Key.Material {
        guard let label = Self.label(of: pem) else { throw .invalidPEM(keyID: keyID) }
        let publicKey: Certificate.PublicKey
        switch label {
        case "PUBLIC KEY":
            do {
                publicKey = try Certificate.PublicKey(pemEncoded: pem)
            } catch {
                // swift-certificates refuses RSA keys under 2048 bits; say so rather than "invalid".
                if let small = try? _RSA.Signing.PublicKey(unsafePEMRepresentation: pem), small.keySizeInBits < 2048 {
                    throw .rsaKeyTooSmall(keyID: keyID)
                }
                throw .invalidPEM(keyID: keyID)
            }
        case "CERTIFICATE":
            do {
                publicKey = try Certificate(pemEncoded: pem).publicKey
            } catch {
                throw .invalidPEM(keyID: keyID)
            }
        case let label where label.hasSuffix("PRIVATE KEY"):
            throw .privateKeyGiven(keyID: keyID)
        default:
            throw .unsupportedPEMType(label, keyID: keyID)
        }
        return try Self.material(from: publicKey, keyID: keyID)
    }

    static func material(
        from publicKey: Certificate.PublicKey,
        keyID: String?
    ) throws(JWTKeyError) -> JWTVerifier.Key.Material {
        if let key = P256.Signing.PublicKey(publicKey) { return .p256(key) }
        if let key = P384.Signing.PublicKey(publicKey) { return .p384(key) }
        if let key = Curve25519.Signing.PublicKey(publicKey) { return .ed25519(key) }
        if let key = _RSA.Signing.PublicKey(publicKey) {
            guard key.keySizeInBits >= 2048 else { throw .rsaKeyTooSmall(keyID: keyID) }
            return .rsa(key)
        }
        throw .unsupportedPublicKey(keyID: keyID)
    }

    /// The label of the first `-----BEGIN LABEL-----` line, if there is one.
    static func label(of pem: String) -> String? {
        let prefix = "-----BEGIN "
        let suffix = "-----"
        for line in pem.split(whereSeparator: \.isNewline) {
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            guard trimmed.hasPrefix(prefix) else { continue }
            var rest = trimmed.dropFirst(prefix.count)
            while let last = rest.last, last == " " || last == "\t" { rest = rest.dropLast() }
            guard rest.hasSuffix(suffix) else { return nil }
            return String(rest.dropLast(suffix.count))
        }
        return nil
    }
}
