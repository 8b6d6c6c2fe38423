internal import Crypto
internal import MeridianSecurity
import MeridianConfig
internal import Testing
internal import _CryptoExtras

@Suite("JWTVerifier.Key: secrets, PEM public keys and certificates")
struct JWTVerifierKeyTests {
    let fixtures = Fixtures.shared

    @Test(
        "a certificate's public key verifies its tokens",
        arguments: [
            ("rsa1_certificate_pem", "rs256", "rsa-1", "RS256"),
            ("ec1_certificate_pem", "es256", "ec-1", "ES256"),
            ("ed1_certificate_pem", "eddsa", "ed-1", "EdDSA"),
        ]
    )
    func certificate(pem: String, token: String, keyID: String, algorithm: String) throws {
        let key = try JWTVerifier.Key.publicKey(pem: fixtures.pem(pem), id: keyID)
        #expect(key.algorithm.name == algorithm)
        let verifier = JWTVerifier(keys: [key], configuration: fixtures.standardConfiguration())
        #expect(rejection { try verifier.verify(fixtures.token(token), now: fixtures.now) } == nil)
    }

    @Test("the algorithm is inferred for EC and Ed25519, defaults to RS256 for RSA")
    func inferredAlgorithms() throws {
        #expect(try JWTVerifier.Key.publicKey(pem: fixtures.pem("rsa1_public_pem")).algorithm == .rs256)
        #expect(try JWTVerifier.Key.publicKey(pem: fixtures.pem("ec1_public_pem")).algorithm == .es256)
        #expect(try JWTVerifier.Key.publicKey(pem: fixtures.pem("ec384_public_pem")).algorithm == .es384)
        #expect(try JWTVerifier.Key.publicKey(pem: fixtures.pem("ed1_public_pem")).algorithm == .edDSA)
        #expect(try JWTVerifier.Key.hmac(secret: fixtures.hmacSecret).algorithm == .hs256)
    }

    @Test("an algorithm that does not fit the key is a configuration error")
    func algorithmNotForKey() throws {
        let error = #expect(throws: JWTKeyError.self) {
            try JWTVerifier.Key.publicKey(pem: fixtures.pem("rsa1_public_pem"), algorithm: .hs256, id: "rsa-1")
        }
        #expect(error?.description == "key 'rsa-1': algorithm HS256 cannot be used with a RSA key")
        #expect(throws: JWTKeyError.self) {
            try JWTVerifier.Key.publicKey(pem: fixtures.pem("ec1_public_pem"), algorithm: .es384)
        }
        #expect(throws: JWTKeyError.self) {
            try JWTVerifier.Key.publicKey(pem: fixtures.pem("ed1_public_pem"), algorithm: .es256)
        }
        #expect(throws: JWTKeyError.self) { try JWTVerifier.Key.hmac(secret: fixtures.hmacSecret, algorithm: .rs256) }
    }

    @Test("HMAC secrets shorter than the hash are refused (RFC 7518 §3.2)")
    func shortSecret() throws {
        #expect(throws: JWTKeyError.self) { try JWTVerifier.Key.hmac(secret: Array(repeating: 1, count: 31)) }
        #expect(throws: Never.self) { try JWTVerifier.Key.hmac(secret: Array(repeating: 1, count: 32)) }
        #expect(throws: JWTKeyError.self) {
            try JWTVerifier.Key.hmac(secret: Array(repeating: 1, count: 63), algorithm: .hs512)
        }
    }

    @Test("private keys, small RSA keys, garbage and other PEM types are refused with a reason")
    func badPEM() throws {
        let privateKey = P256.Signing.PrivateKey().pemRepresentation
        let error = #expect(throws: JWTKeyError.self) { try JWTVerifier.Key.publicKey(pem: privateKey) }
        #expect(error?.description.contains("a private key was given") == true)

        let small = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024)).publicKey.pemRepresentation
        let smallError = #expect(throws: JWTKeyError.self) { try JWTVerifier.Key.publicKey(pem: small) }
        #expect(smallError?.description.contains("2048") == true)

        #expect(throws: JWTKeyError.self) { try JWTVerifier.Key.publicKey(pem: "not a pem") }
        #expect(throws: JWTKeyError.self) {
            try JWTVerifier.Key.publicKey(pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
        }
        let other = #expect(throws: JWTKeyError.self) {
            try JWTVerifier.Key.publicKey(pem: "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
        }
        #expect(other?.description.contains("'X509 CRL' is not supported") == true)
    }

    @Test("descriptions name the key, never its material")
    func keyDescription() throws {
        let key = try JWTVerifier.Key.hmac(secret: fixtures.hmacSecret, id: "hs")
        #expect(key.description == "'hs' HS256 HMAC secret")
        let pem = try JWTVerifier.Key.publicKey(pem: fixtures.pem("ed1_public_pem"))
        #expect(pem.description == "(no kid) EdDSA Ed25519")
    }
}
