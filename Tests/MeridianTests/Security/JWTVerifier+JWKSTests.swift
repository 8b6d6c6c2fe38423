internal import MeridianSecurity
import MeridianConfig
internal import Testing

@Suite("JWTVerifier.Key: JWK Sets")
struct JWTVerifierJWKSTests {
    let fixtures = Fixtures.shared

    @Test("RSA, EC, OKP and oct keys are read; unusable ones are skipped and reported")
    func mixedSet() throws {
        let set = try JWTVerifier.Key.keySet(fromJWKS: fixtures.jwks)
        let read = set.keys.map { "\($0.id ?? "-") \($0.algorithm)" }
        #expect(read == ["rsa-1 RS256", "rsa-2 RS256", "ec-1 ES256", "ec384-1 ES384", "ed-1 EdDSA", "hs256-1 HS256"])
        #expect(set.skipped.map(\.keyID) == ["weird", "rsa-enc", "ec-p521", "rsa-broken", "hs-short", "ec-mismatch"])
        #expect(set.skipped.map(\.index) == [6, 7, 8, 9, 10, 11])
        let reasons = set.skipped.map(\.description)
        #expect(reasons[0].contains("kty 'foo' is not supported"))
        #expect(reasons[1].contains("'use' is not 'sig'"))
        #expect(reasons[2].contains("EC curve 'P-521' is not supported"))
        #expect(reasons[3].contains("'n' is not base64url"))
        #expect(reasons[4].contains("at least 32 bytes"))
        #expect(reasons[5].contains("ES384 cannot be used with a EC P-256 key"))
        #expect(try JWTVerifier.Key.keys(fromJWKS: fixtures.jwks).count == 6)
    }

    @Test(
        "tokens verify against keys from the JWKS",
        arguments: ["rs256", "rs256_rsa2", "es256", "es384", "eddsa", "hs256", "rs256_no_kid", "es256_no_kid"]
    )
    func verifyWithJWKS(token: String) throws {
        let verifier = JWTVerifier(
            keys: try JWTVerifier.Key.keys(fromJWKS: fixtures.jwks),
            configuration: fixtures.standardConfiguration()
        )
        #expect(rejection { try verifier.verify(fixtures.token(token), now: fixtures.now) } == nil)
    }

    @Test("the JWKS binds each key to one algorithm: confusion and foreign algs are refused")
    func bindings() throws {
        let verifier = JWTVerifier(
            keys: try JWTVerifier.Key.keys(fromJWKS: fixtures.jwks),
            configuration: fixtures.standardConfiguration()
        )
        #expect(
            rejection { try verifier.verify(fixtures.token("hs256_confusion"), now: fixtures.now) }
                == .algorithmMismatch)
        // rsa-1 is bound to RS256 in the JWKS, so a PS256 token naming it is refused.
        #expect(rejection { try verifier.verify(fixtures.token("ps256"), now: fixtures.now) } == .unknownKeyID)
        #expect(rejection { try verifier.verify(fixtures.token("rs384"), now: fixtures.now) } == .unknownKeyID)
    }

    @Test(
        "documents that are not a JWK Set throw",
        arguments: ["", "[]", "{}", #"{"keys":{}}"#, #"{"keys":"x"}"#, "not json", #"{"keys":[]"#]
    )
    func notASet(document: String) {
        #expect(throws: JWTKeyError.self) { try JWTVerifier.Key.keySet(fromJWKS: Array(document.utf8)) }
    }

    @Test("odd entries are skipped one by one")
    func oddEntries() throws {
        let document = #"""
            {"keys":[
              1,
              {"kid":"no-kty"},
              {"kty":"oct","kid":7,"k":"AAAA"},
              {"kty":"oct","kid":"ops","alg":"HS256","key_ops":["sign"],"k":"AAAA"},
              {"kty":"oct","kid":"alg-num","alg":256,"k":"AAAA"},
              {"kty":"oct","kid":"alg-none","alg":"none","k":"AAAA"},
              {"kty":"OKP","kid":"x25519","crv":"X25519","x":"AAAA"},
              {"kty":"OKP","kid":"ed-short","crv":"Ed25519","x":"AAAA"},
              {"kty":"EC","kid":"ec-short","crv":"P-256","x":"AAAA","y":"AAAA"},
              {"kty":"RSA","kid":"rsa-small","n":"AQAB","e":"AQAB"},
              {"kty":"oct","kid":"ok","key_ops":["verify","sign"],"k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}
            ],"extra":"members are ignored"}
            """#
        let set = try JWTVerifier.Key.keySet(fromJWKS: Array(document.utf8))
        #expect(set.keys.map(\.id) == ["ok"])
        #expect(set.keys.first?.algorithm == .hs256)
        #expect(set.skipped.count == 10)
        for skipped in set.skipped {
            #expect(skipped.description.allSatisfy { $0.isASCII && !$0.isNewline }, "\(skipped)")
        }
    }
}
