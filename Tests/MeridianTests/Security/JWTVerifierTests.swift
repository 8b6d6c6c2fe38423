internal import Foundation
internal import MeridianSecurity
import MeridianConfig
internal import Testing

@Suite("JWTVerifier: signatures, key selection and time claims")
struct JWTVerifierTests {
    let fixtures = Fixtures.shared

    @Test(
        "a PyJWT token verifies for every algorithm",
        arguments: [
            ("hs256", "HS256", "hs256-1"), ("hs384", "HS384", "hs384-1"), ("hs512", "HS512", "hs512-1"),
            ("rs256", "RS256", "rsa-1"), ("rs384", "RS384", "rsa-1-rs384"), ("rs512", "RS512", "rsa-1-rs512"),
            ("ps256", "PS256", "rsa-1-ps256"), ("es256", "ES256", "ec-1"), ("es384", "ES384", "ec384-1"),
            ("eddsa", "EdDSA", "ed-1"),
        ]
    )
    func validForEachAlgorithm(token: String, algorithm: String, keyID: String) throws {
        let verified = try fixtures.standardVerifier().verify(fixtures.token(token), now: fixtures.now)
        #expect(verified.algorithm.name == algorithm)
        #expect(verified.keyID == keyID)
        #expect(verified.subject == "user-42")
        #expect(verified.issuer == fixtures.issuer)
        #expect(verified.expiresAt == 4_102_444_800)
    }

    @Test(
        "without kid, the keys bound to the header's alg are tried",
        arguments: ["rs256_no_kid", "es256_no_kid", "hs256_no_kid"])
    func noKeyID(token: String) throws {
        let verified = try fixtures.standardVerifier().verify(fixtures.token(token), now: fixtures.now)
        #expect(verified.keyID == nil)
    }

    @Test("kid selects among several keys of one algorithm")
    func keyIDSelection() throws {
        let verifier = try fixtures.standardVerifier()
        #expect(try verifier.verify(fixtures.token("rs256_rsa2"), now: fixtures.now).keyID == "rsa-2")
        #expect(try verifier.verify(fixtures.token("rs256"), now: fixtures.now).keyID == "rsa-1")

        // Only the named key is tried: swap the keys behind the kids and both tokens fail.
        let swapped = JWTVerifier(
            keys: [
                try .publicKey(pem: fixtures.pem("rsa2_public_pem"), id: "rsa-1"),
                try .publicKey(pem: fixtures.pem("rsa1_public_pem"), id: "rsa-2"),
            ],
            configuration: fixtures.standardConfiguration()
        )
        #expect(rejection { try swapped.verify(fixtures.token("rs256"), now: fixtures.now) } == .badSignature)
        #expect(rejection { try swapped.verify(fixtures.token("rs256_rsa2"), now: fixtures.now) } == .badSignature)
    }

    @Test("a key shared by kid across algorithms is picked by alg")
    func sharedKeyID() throws {
        let verifier = JWTVerifier(
            keys: [
                try .hmac(secret: fixtures.hmacSecret, algorithm: .hs512, id: "rsa-1"),
                try .publicKey(pem: fixtures.pem("rsa1_public_pem"), id: "rsa-1"),
            ],
            configuration: fixtures.standardConfiguration()
        )
        #expect(try verifier.verify(fixtures.token("rs256"), now: fixtures.now).algorithm == .rs256)
    }

    @Test("unknown kid is its own rejection, so the caller can refresh the JWKS")
    func unknownKeyID() throws {
        let rejected = rejection {
            try fixtures.standardVerifier().verify(fixtures.token("unknown_kid"), now: fixtures.now)
        }
        #expect(rejected == .unknownKeyID)
        #expect(rejected?.label == "unknown_kid")
        #expect(rejected?.errorCode == "invalid_token")
    }

    @Test(
        "signed by another key of the same type",
        arguments: ["rs256_wrong_key", "es256_wrong_key", "eddsa_wrong_key", "hs256_wrong_key"]
    )
    func wrongKey(token: String) throws {
        let rejected = rejection { try fixtures.standardVerifier().verify(fixtures.token(token), now: fixtures.now) }
        #expect(rejected == .badSignature)
        #expect(rejected?.label == "bad_signature")
    }

    @Test(
        "alg none is always refused",
        arguments: [
            ("alg_none_trailing_dot", "alg_none"), ("alg_none_upper", "alg_none"),
            ("alg_none_with_signature", "alg_none"),
            // `header.payload` has two segments: refused before the header is read.
            ("alg_none_no_dot", "malformed"),
        ]
    )
    func algorithmNone(token: String, label: String) throws {
        // Even a verifier that skips every claim check.
        let lax = JWTVerifier(
            keys: try fixtures.standardKeys(),
            configuration: .init(requireExpiration: false)
        )
        let rejected = rejection { try lax.verify(fixtures.token(token), now: fixtures.now) }
        #expect(rejected?.label == label)
    }

    @Test("HS256 keyed with the RSA public key PEM does not verify against the RSA key")
    func algorithmConfusion() throws {
        let verifier = try fixtures.standardVerifier()
        // With the RSA kid: the key is bound to RS256, so HS256 is refused outright.
        let withKeyID = rejection { try verifier.verify(fixtures.token("hs256_confusion"), now: fixtures.now) }
        #expect(withKeyID == .algorithmMismatch)
        #expect(withKeyID?.label == "alg_mismatch")
        // Without kid: only genuine HMAC keys are tried, and the MAC does not match them.
        let withoutKeyID = rejection {
            try verifier.verify(fixtures.token("hs256_confusion_no_kid"), now: fixtures.now)
        }
        #expect(withoutKeyID == .badSignature)
        // A verifier with only the RSA key has no HS256 key at all.
        let rsaOnly = JWTVerifier(keys: [try .publicKey(pem: fixtures.pem("rsa1_public_pem"), id: "rsa-1")])
        #expect(
            rejection { try rsaOnly.verify(fixtures.token("hs256_confusion_no_kid"), now: fixtures.now) }
                == .algorithmMismatch)
        #expect(
            rejection { try rsaOnly.verify(fixtures.token("hs256_confusion"), now: fixtures.now) } == .algorithmMismatch
        )
    }

    @Test("exp: expired, within leeway, and the injected clock")
    func expiration() throws {
        let verifier = try fixtures.standardVerifier()
        let expired = rejection { try verifier.verify(fixtures.token("expired"), now: fixtures.now) }
        #expect(expired == .expired)
        #expect(expired?.description == "token expired")
        // Expired 30 s ago: inside the default 60 s leeway, outside a zero one.
        #expect(rejection { try verifier.verify(fixtures.token("expired_30s_ago"), now: fixtures.now) } == nil)
        var strict = fixtures.standardConfiguration()
        strict.leewaySeconds = 0
        let strictVerifier = JWTVerifier(keys: try fixtures.standardKeys(), configuration: strict)
        #expect(
            rejection { try strictVerifier.verify(fixtures.token("expired_30s_ago"), now: fixtures.now) } == .expired)
        // The valid token expires in 2100: move the clock instead of waiting.
        let exp = 4_102_444_800.0
        #expect(rejection { try verifier.verify(fixtures.token("rs256"), now: exp + 59) } == nil)
        #expect(rejection { try verifier.verify(fixtures.token("rs256"), now: exp + 60) } == .expired)
        #expect(rejection { try strictVerifier.verify(fixtures.token("rs256"), now: exp) } == .expired)
    }

    @Test("exp is required unless configured otherwise, and must be a number")
    func expirationRequired() throws {
        #expect(
            rejection { try fixtures.standardVerifier().verify(fixtures.token("no_exp"), now: fixtures.now) }
                == .missingClaim)
        var lax = fixtures.standardConfiguration()
        lax.requireExpiration = false
        #expect(
            rejection { try fixtures.standardVerifier(lax).verify(fixtures.token("no_exp"), now: fixtures.now) } == nil)
        let stringExp = rejection {
            try fixtures.standardVerifier(lax).verify(fixtures.token("exp_string"), now: fixtures.now)
        }
        #expect(stringExp?.label == "malformed")
    }

    @Test("nbf in the future, and nbf within leeway")
    func notBefore() throws {
        let verifier = try fixtures.standardVerifier()
        let early = rejection { try verifier.verify(fixtures.token("nbf_future"), now: fixtures.now) }
        #expect(early == .notYetValid)
        #expect(early?.label == "not_yet_valid")
        #expect(rejection { try verifier.verify(fixtures.token("nbf_30s_ahead"), now: fixtures.now) } == nil)
        #expect(rejection { try verifier.verify(fixtures.token("nbf_future"), now: fixtures.now + 3600) } == nil)
        var strict = fixtures.standardConfiguration()
        strict.leewaySeconds = 0
        #expect(
            rejection {
                try fixtures.standardVerifier(strict).verify(fixtures.token("nbf_30s_ahead"), now: fixtures.now)
            } == .notYetValid)
    }

    @Test("iat in the future beyond leeway")
    func issuedInFuture() throws {
        let rejected = rejection {
            try fixtures.standardVerifier().verify(fixtures.token("iat_future"), now: fixtures.now)
        }
        #expect(rejected == .issuedInFuture)
        #expect(rejected?.label == "not_yet_valid")
        #expect(
            rejection { try fixtures.standardVerifier().verify(fixtures.token("iat_future"), now: fixtures.now + 3600) }
                == nil)
    }

    @Test("the Date overload uses the same clock")
    func dateOverload() throws {
        let verifier = try fixtures.standardVerifier()
        let token = fixtures.token("rs256")
        let expiry = Date(timeIntervalSince1970: 4_102_444_800 + 60)
        #expect(rejection { try verifier.verify(token, now: expiry) } == .expired)
        #expect(rejection { try verifier.verify(token[...], now: expiry) } == .expired)
        #expect(rejection { try verifier.verify(token[...], now: Date(timeIntervalSince1970: fixtures.now)) } == nil)
    }
}
