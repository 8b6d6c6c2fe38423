internal import Crypto
internal import _CryptoExtras

extension JWTVerifier {
    /// The usable keys of a JWK Set, and the ones left out with the reason for each.
    ///
    /// An identity provider's JWKS often carries keys a JWT verifier has no use for (encryption
    /// keys, curves or key types it does not implement). Skipping those rather than failing the
    /// whole set keeps one odd key from taking authentication down; the caller logs ``skipped``.
    public struct JWKSet: Sendable {
        public let keys: [Key]
        public let skipped: [SkippedKey]
    }

    /// A JWK that was left out of a ``JWKSet``.
    public struct SkippedKey: Sendable, CustomStringConvertible {
        /// Position in the document's `keys` array.
        public let index: Int
        public let keyID: String?
        public let reason: JWTKeyError

        public var description: String { "keys[\(index)]: \(reason)" }
    }
}

extension JWTVerifier.Key {
    /// The usable verification keys in a JWK Set document (RFC 7517 §5); unusable ones are dropped.
    ///
    /// Throws only when the document itself is not a JWK Set. Use ``keySet(fromJWKS:)`` to see
    /// what was skipped and why.
    public static func keys(fromJWKS data: [UInt8]) throws(JWTKeyError) -> [JWTVerifier.Key] {
        try keySet(fromJWKS: data).keys
    }

    /// Reads a JWK Set document (RFC 7517 §5), keeping the keys that can verify JWS signatures.
    ///
    /// Each key is bound to its `alg` (RFC 7517 §4.4) or, without one, to the only algorithm its
    /// curve allows (EC P-256 → ES256, P-384 → ES384, OKP Ed25519 → EdDSA, RFC 8037 §2), RS256
    /// for RSA and HS256 for `oct`. Keys whose `use` is not `sig` (§4.2) or whose `key_ops` lacks
    /// `verify` (§4.3) are skipped, as are unsupported types and malformed parameters.
    public static func keySet(fromJWKS data: [UInt8]) throws(JWTKeyError) -> JWTVerifier.JWKSet {
        guard case .object(let document)? = JSONValue.parse(data), case .array(let entries)? = document["keys"] else {
            throw .invalidJWKSDocument
        }
        var keys: [JWTVerifier.Key] = []
        var skipped: [JWTVerifier.SkippedKey] = []
        for (index, entry) in entries.enumerated() {
            guard case .object(let members) = entry else {
                skipped.append(.init(index: index, keyID: nil, reason: .invalidJWK("not a JSON object", keyID: nil)))
                continue
            }
            do {
                keys.append(try Self.key(fromJWK: members))
            } catch {
                skipped.append(.init(index: index, keyID: members["kid"]?.stringValue, reason: error))
            }
        }
        return JWTVerifier.JWKSet(keys: keys, skipped: skipped)
    }

    /// One JWK (RFC 7517 §4) with the key type parameters of RFC 7518 §6 and RFC 8037 §2.
    static func key(fromJWK members: [String: JSONValue]) throws(JWTKeyError) -> JWTVerifier.Key {
        var keyID: String?
        if let value = members["kid"] {
            guard case .string(let kid) = value else { throw .invalidJWK("'kid' is not a string", keyID: nil) }
            keyID = kid
        }
        guard case .string(let keyType)? = members["kty"] else {
            throw .invalidJWK("missing 'kty'", keyID: keyID)
        }
        guard ["RSA", "EC", "OKP", "oct"].contains(keyType) else {
            throw .unsupportedJWK("kty '\(JWTKeyError.printable(keyType))' is not supported", keyID: keyID)
        }
        if let use = members["use"], use != .string("sig") {
            throw .unsupportedJWK("'use' is not 'sig'", keyID: keyID)
        }
        if let operations = members["key_ops"] {
            guard case .array(let list) = operations, list.contains(.string("verify")) else {
                throw .unsupportedJWK("'key_ops' does not include 'verify'", keyID: keyID)
            }
        }
        var algorithm: JWSAlgorithm?
        if let value = members["alg"] {
            guard case .string(let name) = value else { throw .invalidJWK("'alg' is not a string", keyID: keyID) }
            guard let known = JWSAlgorithm(name: name) else {
                throw .unsupportedJWK("alg '\(JWTKeyError.printable(name))' is not supported", keyID: keyID)
            }
            algorithm = known
        }

        let parameters = JWKParameters(members: members, keyID: keyID)
        let material: Material
        switch keyType {
        case "RSA":
            let modulus = try parameters.bytes("n")
            let exponent = try parameters.bytes("e")
            do {
                material = .rsa(try _RSA.Signing.PublicKey(n: modulus, e: exponent))
            } catch {
                let significant = modulus.drop(while: { $0 == 0 })
                if !significant.isEmpty, significant.count * 8 < 2048 { throw .rsaKeyTooSmall(keyID: keyID) }
                throw .invalidJWK("'n' and 'e' are not a valid RSA public key", keyID: keyID)
            }
        case "EC":
            let curve = try parameters.string("crv")
            switch curve {
            case "P-256":
                let point = try parameters.uncompressedPoint(coordinateBytes: 32)
                guard let key = try? P256.Signing.PublicKey(x963Representation: point) else {
                    throw .invalidJWK("'x' and 'y' are not a P-256 point", keyID: keyID)
                }
                material = .p256(key)
            case "P-384":
                let point = try parameters.uncompressedPoint(coordinateBytes: 48)
                guard let key = try? P384.Signing.PublicKey(x963Representation: point) else {
                    throw .invalidJWK("'x' and 'y' are not a P-384 point", keyID: keyID)
                }
                material = .p384(key)
            default:
                throw .unsupportedJWK("EC curve '\(JWTKeyError.printable(curve))' is not supported", keyID: keyID)
            }
        case "OKP":
            let curve = try parameters.string("crv")
            guard curve == "Ed25519" else {
                throw .unsupportedJWK("OKP curve '\(JWTKeyError.printable(curve))' is not supported", keyID: keyID)
            }
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: try parameters.bytes("x")) else {
                throw .invalidJWK("'x' is not an Ed25519 public key", keyID: keyID)
            }
            material = .ed25519(key)
        case "oct":
            material = .hmac(SymmetricKey(data: try parameters.bytes("k")))
        default:  // unreachable: checked above, before `use` and `alg`
            throw .unsupportedJWK("kty '\(JWTKeyError.printable(keyType))' is not supported", keyID: keyID)
        }
        return try JWTVerifier.Key(id: keyID, algorithm: algorithm, material: material)
    }
}

/// Reads the base64url parameters of one JWK, naming the key in its errors.
private struct JWKParameters {
    let members: [String: JSONValue]
    let keyID: String?

    func string(_ name: String) throws(JWTKeyError) -> String {
        guard case .string(let value)? = members[name] else {
            throw .invalidJWK("missing or non-string '\(name)'", keyID: keyID)
        }
        return value
    }

    /// RFC 7518 §6 parameters are unpadded base64url; trailing `=` is tolerated here because
    /// some publishers add it, and a JWKS is configuration, not attacker-chosen token bytes.
    func bytes(_ name: String) throws(JWTKeyError) -> [UInt8] {
        var text = Substring(try string(name))
        while text.last == "=" { text = text.dropLast() }
        guard let bytes = Base64URL.decode(ArraySlice(text.utf8)), !bytes.isEmpty else {
            throw .invalidJWK("'\(name)' is not base64url", keyID: keyID)
        }
        return bytes
    }

    /// `0x04 || x || y` (SEC 1 §2.3.3), with each coordinate exactly the curve's size (RFC 7518 §6.2.1.2).
    func uncompressedPoint(coordinateBytes: Int) throws(JWTKeyError) -> [UInt8] {
        let x = try bytes("x")
        let y = try bytes("y")
        guard x.count == coordinateBytes, y.count == coordinateBytes else {
            throw .invalidJWK("'x' and 'y' must be \(coordinateBytes) bytes each", keyID: keyID)
        }
        return [0x04] + x + y
    }
}
