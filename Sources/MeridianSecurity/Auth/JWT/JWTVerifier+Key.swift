internal import Crypto
internal import Foundation
internal import _CryptoExtras

extension JWTVerifier {
    /// One verification key bound to exactly one algorithm, optionally named by a `kid`.
    ///
    /// Binding the algorithm to the key, rather than trusting the token's `alg`, is what RFC 8725
    /// §3.1 asks for: a token is only checked with keys whose ``algorithm`` equals its header's
    /// `alg`, so an RSA public key can never be used as an HMAC secret. Immutable and `Sendable`:
    /// a key table is built once (at configuration or JWKS refresh) and shared by all event loops.
    public struct Key: Sendable, CustomStringConvertible {
        /// The `kid` tokens use to select this key (RFC 7515 §4.1.4), if any.
        public let id: String?
        /// The only algorithm this key verifies.
        public let algorithm: JWSAlgorithm
        let material: Material

        enum Material: Sendable {
            case hmac(SymmetricKey)
            case rsa(_RSA.Signing.PublicKey)
            case p256(P256.Signing.PublicKey)
            case p384(P384.Signing.PublicKey)
            case ed25519(Curve25519.Signing.PublicKey)

            var typeName: String {
                switch self {
                case .hmac: "HMAC secret"
                case .rsa: "RSA"
                case .p256: "EC P-256"
                case .p384: "EC P-384"
                case .ed25519: "Ed25519"
                }
            }

            /// The algorithm a key of this type gets when none is configured: RS256 for RSA
            /// (the JWT default), HS256 for a secret, and the only one a curve allows otherwise.
            var defaultAlgorithm: JWSAlgorithm {
                switch self {
                case .hmac: .hs256
                case .rsa: .rs256
                case .p256: .es256
                case .p384: .es384
                case .ed25519: .edDSA
                }
            }

            func allows(_ algorithm: JWSAlgorithm) -> Bool {
                switch self {
                case .hmac: algorithm.isHMAC
                case .rsa: algorithm.isRSA
                case .p256: algorithm == .es256
                case .p384: algorithm == .es384
                case .ed25519: algorithm == .edDSA
                }
            }
        }

        init(id: String?, algorithm: JWSAlgorithm?, material: Material) throws(JWTKeyError) {
            let algorithm = algorithm ?? material.defaultAlgorithm
            guard material.allows(algorithm) else {
                throw .algorithmNotForKey(algorithm.name, keyType: material.typeName, keyID: id)
            }
            if case .hmac(let secret) = material, secret.bitCount / 8 < algorithm.hashByteCount {
                throw .hmacSecretTooShort(algorithm, keyID: id)
            }
            if case .rsa(let key) = material, key.keySizeInBits < 2048 {
                throw .rsaKeyTooSmall(keyID: id)
            }
            self.id = id
            self.algorithm = algorithm
            self.material = material
        }

        /// A shared secret for HS256/384/512 (RFC 7518 §3.2).
        ///
        /// The secret must be at least as long as the hash output (32, 48 or 64 bytes), as RFC 7518
        /// §3.2 requires; shorter secrets are refused rather than accepted with a warning.
        public static func hmac(
            secret: [UInt8],
            algorithm: JWSAlgorithm = .hs256,
            id: String? = nil
        ) throws(JWTKeyError) -> Key {
            try Key(id: id, algorithm: algorithm, material: .hmac(SymmetricKey(data: secret)))
        }

        /// A public key from PEM: a SubjectPublicKeyInfo (`PUBLIC KEY`) or an X.509 `CERTIFICATE`
        /// whose key is used as is (the certificate's dates and chain are not checked: the key is
        /// pinned by configuration).
        ///
        /// RSA keys get `algorithm` or RS256; EC and Ed25519 keys allow one algorithm each, so
        /// `algorithm` may be omitted, and a conflicting one is an error.
        public static func publicKey(
            pem: String,
            algorithm: JWSAlgorithm? = nil,
            id: String? = nil
        ) throws(JWTKeyError) -> Key {
            let material = try PEMKeyReader.material(fromPEM: pem, keyID: id)
            return try Key(id: id, algorithm: algorithm, material: material)
        }

        /// Whether `signature` is this key's signature over `signingInput` (RFC 7515 §5.2 step 8).
        ///
        /// Synchronous and allocation-light: this runs on the event loop for every request.
        func isValidSignature(_ signature: [UInt8], for signingInput: ArraySlice<UInt8>) -> Bool {
            switch material {
            case .hmac(let secret):
                // Constant-time comparison inside swift-crypto.
                switch algorithm.backing {
                case .hs256:
                    return HMAC<SHA256>.isValidAuthenticationCode(
                        signature, authenticating: signingInput, using: secret)
                case .hs384:
                    return HMAC<SHA384>.isValidAuthenticationCode(
                        signature, authenticating: signingInput, using: secret)
                case .hs512:
                    return HMAC<SHA512>.isValidAuthenticationCode(
                        signature, authenticating: signingInput, using: secret)
                default: return false
                }
            case .rsa(let key):
                let rsaSignature = _RSA.Signing.RSASignature(rawRepresentation: signature)
                switch algorithm.backing {
                case .rs256:
                    return key.isValidSignature(
                        rsaSignature, for: SHA256.hash(data: signingInput), padding: .insecurePKCS1v1_5)
                case .rs384:
                    return key.isValidSignature(
                        rsaSignature, for: SHA384.hash(data: signingInput), padding: .insecurePKCS1v1_5)
                case .rs512:
                    return key.isValidSignature(
                        rsaSignature, for: SHA512.hash(data: signingInput), padding: .insecurePKCS1v1_5)
                case .ps256:
                    return key.isValidSignature(rsaSignature, for: SHA256.hash(data: signingInput), padding: .PSS)
                case .ps384:
                    return key.isValidSignature(rsaSignature, for: SHA384.hash(data: signingInput), padding: .PSS)
                case .ps512:
                    return key.isValidSignature(rsaSignature, for: SHA512.hash(data: signingInput), padding: .PSS)
                default: return false
                }
            case .p256(let key):
                // JWS carries R || S (RFC 7518 §3.4), not DER; a wrong length cannot verify.
                guard let ecdsaSignature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else {
                    return false
                }
                return key.isValidSignature(ecdsaSignature, for: SHA256.hash(data: signingInput))
            case .p384(let key):
                guard let ecdsaSignature = try? P384.Signing.ECDSASignature(rawRepresentation: signature) else {
                    return false
                }
                return key.isValidSignature(ecdsaSignature, for: SHA384.hash(data: signingInput))
            case .ed25519(let key):
                return key.isValidSignature(signature, for: signingInput)
            }
        }

        /// `kid`, algorithm and key type, for logs; never key material.
        public var description: String {
            "\(id.map { "'\($0)'" } ?? "(no kid)") \(algorithm.name) \(material.typeName)"
        }
    }
}
