internal import Testing

@testable internal import MeridianSecurity
import MeridianConfig

@Suite("JWTVerifier: garbage input is malformed, and cheap to refuse")
struct MalformedTokenTests {
    let fixtures = Fixtures.shared

    func label(_ token: String) throws -> String? {
        rejection { try fixtures.standardVerifier().verify(token, now: fixtures.now) }?.label
    }

    @Test(
        "structurally broken tokens",
        arguments: [
            "",
            ".",
            "..",
            "abc",
            "eyJhbGciOiJIUzI1NiJ9.e30",  // two segments
            "a.b.c.d",  // four segments
            "a.b.c.d.e",  // JWE-shaped
            "!!!.e30.sig",  // header not base64url
            "eyJhbGciOiJIUzI1NiJ9=.e30.sig",  // padding is not JOSE base64url
            "WzFd.e30.c2ln",  // header is `[1]`, not an object
            "bnVsbA.e30.c2ln",  // header is `null`
            "e30.e30.c2ln",  // header `{}` has no alg
            "eyJhbGciOjF9.e30.c2ln",  // alg is a number
            "eyJhbGciOiJIUzI1NiIsImFsZyI6IlJTMjU2In0.e30.c2ln",  // duplicate alg
            "eyJhbGciOiJIUzI1NiIsImtpZCI6MX0.e30.c2ln",  // kid is a number
        ]
    )
    func structurallyBroken(token: String) throws {
        #expect(try label(token) == "malformed")
    }

    @Test("a correctly signed token whose payload is not a JSON object, or has a duplicate claim")
    func badPayload() throws {
        for name in ["payload_not_object", "payload_not_json", "payload_duplicate_claim"] {
            let rejected = rejection { try fixtures.standardVerifier().verify(fixtures.token(name), now: fixtures.now) }
            #expect(rejected?.label == "malformed", "\(name)")
            #expect(rejected?.isMalformedToken == true, "\(name)")
        }
    }

    @Test("a crit header is refused: no extensions are understood (RFC 7515 §4.1.11)")
    func criticalHeader() throws {
        let rejected = rejection {
            try fixtures.standardVerifier().verify(fixtures.token("crit_header"), now: fixtures.now)
        }
        #expect(rejected == .malformed(.unsupportedCriticalHeader))
    }

    @Test("a 20 KiB token is refused as too large before decoding")
    func oversized() throws {
        let huge = "eyJhbGciOiJIUzI1NiJ9." + String(repeating: "A", count: 20 * 1024) + ".c2ln"
        let rejected = rejection { try fixtures.standardVerifier().verify(huge, now: fixtures.now) }
        #expect(rejected == .malformed(.tooLarge))
        #expect(rejected?.description == "token too large")
        // Exactly at the limit is still parsed (and fails for other reasons).
        let atLimit = String(repeating: "A", count: JWTVerifier.maximumTokenBytes)
        #expect(
            rejection { try fixtures.standardVerifier().verify(atLimit, now: fixtures.now) }
                == .malformed(.notCompactJWS))
    }

    @Test("many segments are refused at the fourth dot")
    func manySegments() throws {
        let dots = String(repeating: ".", count: 10_000)
        #expect(
            rejection { try fixtures.standardVerifier().verify(dots, now: fixtures.now) } == .malformed(.notCompactJWS))
    }

    @Test("a signature with non-zero leftover bits is not an alternative encoding of a valid one")
    func nonCanonicalSignature() throws {
        let token = fixtures.token("hs256")
        // A 32-byte HMAC is 43 base64url characters (258 bits); the last carries 4 data bits and 2 zero bits.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let last = token.last!
        let value = alphabet.firstIndex(of: last)!
        #expect(value & 0x03 == 0)
        let twin = String(token.dropLast()) + String(alphabet[value | 0x01])
        #expect(
            rejection { try fixtures.standardVerifier().verify(twin, now: fixtures.now) } == .malformed(.badEncoding))
        #expect(rejection { try fixtures.standardVerifier().verify(token, now: fixtures.now) } == nil)
    }

    @Test("an unsupported alg is counted as alg_mismatch, not malformed")
    func unsupportedAlgorithm() throws {
        // {"alg":"HS1"} and {"alg":"hs256"} (alg is case-sensitive).
        for header in ["eyJhbGciOiJIUzEifQ", "eyJhbGciOiJoczI1NiJ9"] {
            let rejected = rejection { try fixtures.standardVerifier().verify(header + ".e30.c2ln", now: fixtures.now) }
            #expect(rejected == .unsupportedAlgorithm)
            #expect(rejected?.label == "alg_mismatch")
        }
    }

    @Test("a tampered payload fails the signature check")
    func tamperedPayload() throws {
        let parts = fixtures.token("rs256").split(separator: ".", omittingEmptySubsequences: false)
        let payload = Base64URL.encode(
            Array(#"{"sub":"admin","iss":"https://issuer.example","aud":"meridian","exp":4102444800}"#.utf8))
        let forged = "\(parts[0]).\(payload).\(parts[2])"
        #expect(rejection { try fixtures.standardVerifier().verify(forged, now: fixtures.now) } == .badSignature)
        let noSignature = "\(parts[0]).\(parts[1])."
        #expect(rejection { try fixtures.standardVerifier().verify(noSignature, now: fixtures.now) } == .badSignature)
    }
}
