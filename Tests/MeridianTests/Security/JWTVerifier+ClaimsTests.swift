internal import Testing

@testable internal import MeridianSecurity
import MeridianConfig

@Suite("JWTVerifier: issuer, audience, required and forwarded claims")
struct JWTVerifierClaimsTests {
    let fixtures = Fixtures.shared

    @Test("aud: wrong, array with ours, array without ours, missing, unchecked")
    func audience() throws {
        let verifier = try fixtures.standardVerifier()
        let wrong = rejection { try verifier.verify(fixtures.token("wrong_aud"), now: fixtures.now) }
        #expect(wrong == .badAudience)
        #expect(wrong?.label == "bad_audience")
        #expect(rejection { try verifier.verify(fixtures.token("aud_array"), now: fixtures.now) } == nil)
        #expect(rejection { try verifier.verify(fixtures.token("aud_array_wrong"), now: fixtures.now) } == .badAudience)
        #expect(rejection { try verifier.verify(fixtures.token("no_aud"), now: fixtures.now) } == .missingClaim)

        let unchecked = try fixtures.standardVerifier(.init(issuers: [fixtures.issuer]))
        #expect(rejection { try unchecked.verify(fixtures.token("wrong_aud"), now: fixtures.now) } == nil)
        #expect(rejection { try unchecked.verify(fixtures.token("no_aud"), now: fixtures.now) } == nil)
    }

    @Test("iss: not in the configured list")
    func issuer() throws {
        let rejected = rejection {
            try fixtures.standardVerifier().verify(fixtures.token("wrong_iss"), now: fixtures.now)
        }
        #expect(rejected == .badIssuer)
        #expect(rejected?.label == "bad_issuer")
        let several = try fixtures.standardVerifier(
            .init(issuers: ["https://other.example", "https://evil.example"], audiences: [fixtures.audience]))
        #expect(rejection { try several.verify(fixtures.token("wrong_iss"), now: fixtures.now) } == nil)
        #expect(rejection { try several.verify(fixtures.token("rs256"), now: fixtures.now) } == .badIssuer)
    }

    @Test("required claims must be present and not null")
    func requiredClaims() throws {
        var configuration = fixtures.standardConfiguration()
        configuration.requiredClaims = ["sub", "tenant"]
        let verifier = try fixtures.standardVerifier(configuration)
        let missing = rejection { try verifier.verify(fixtures.token("no_sub"), now: fixtures.now) }
        #expect(missing == .missingClaim)
        #expect(missing?.label == "missing_claim")
        #expect(rejection { try verifier.verify(fixtures.token("null_tenant"), now: fixtures.now) } == .missingClaim)
        #expect(rejection { try verifier.verify(fixtures.token("forwarded"), now: fixtures.now) } == nil)
    }

    @Test("forwarded claims: strings as is, numbers and booleans as JSON text, arrays joined")
    func forwardedClaims() throws {
        var configuration = fixtures.standardConfiguration()
        configuration.forwardedClaims = [
            .init(claim: "sub", header: "X-User-Id"),
            .init(claim: "tenant", header: "X-Tenant"),
            .init(claim: "level", header: "X-Level"),
            .init(claim: "ratio", header: "X-Ratio"),
            .init(claim: "admin", header: "X-Admin"),
            .init(claim: "roles", header: "X-Roles"),
            .init(claim: "profile", header: "X-Profile"),  // an object: left out
            .init(claim: "evil", header: "X-Evil"),  // contains CR LF: left out
            .init(claim: "absent", header: "X-Absent"),
            .init(claim: "email", header: "X-Email"),
        ]
        let verified = try fixtures.standardVerifier(configuration).verify(
            fixtures.token("forwarded"), now: fixtures.now)
        let headers = verified.forwardedClaims.map { "\($0.header): \($0.value)" }
        #expect(
            headers == [
                "X-User-Id: user-42", "X-Tenant: acme", "X-Level: 7", "X-Ratio: 0.25", "X-Admin: true",
                "X-Roles: reader,writer", "X-Email: a@example.com",
            ])
    }

    @Test("header values from JSON values")
    func headerValues() {
        #expect(JWTVerifier.headerValue(of: .number("12345678901234567890")) == "12345678901234567890")
        #expect(JWTVerifier.headerValue(of: .bool(false)) == "false")
        #expect(JWTVerifier.headerValue(of: .array([.string("a"), .number("1"), .bool(true)])) == "a,1,true")
        #expect(JWTVerifier.headerValue(of: .array([.string("a"), .object([:])])) == nil)
        #expect(JWTVerifier.headerValue(of: .array([])) == "")
        #expect(JWTVerifier.headerValue(of: .null) == nil)
        #expect(JWTVerifier.headerValue(of: .string("tab\tok")) == "tab\tok")
        #expect(JWTVerifier.headerValue(of: .string("nul\u{0}")) == nil)
        #expect(JWTVerifier.headerValue(of: .array([.string("a\nb")])) == nil)
    }

    @Test("registered claims of the wrong type make the token malformed")
    func claimTypes() throws {
        let verifier = JWTVerifier(keys: [], configuration: .init(audiences: ["meridian"]))
        let now = fixtures.now
        func check(_ claims: [String: JSONValue]) -> String? {
            rejection { try verifier.checkClaims(claims, now: now, keyID: nil, algorithm: .hs256) }?.label
        }
        let exp = JSONValue.number("4102444800")
        #expect(check(["exp": exp, "aud": .string("meridian")]) == nil)
        #expect(check(["exp": exp, "aud": .array([.number("1")])]) == "malformed")
        #expect(check(["exp": exp, "aud": .number("1")]) == "malformed")
        #expect(check(["exp": exp, "aud": .string("meridian"), "sub": .number("1")]) == "malformed")
        #expect(check(["exp": exp, "aud": .string("meridian"), "nbf": .string("0")]) == "malformed")
        #expect(check(["exp": .number("1e999"), "aud": .string("meridian")]) == "malformed")
        #expect(check(["exp": .null, "aud": .string("meridian")]) == "missing_claim")
        #expect(check(["exp": .number("4102444800.5"), "aud": .string("meridian")]) == nil)
    }
}
