import MeridianSecurity
import MeridianConfig
import Testing

@Suite("SecurityHeaders.validate")
struct SecurityHeadersValidationTests {
    private func problems(_ c: SecurityHeaders.Configuration) -> [String] {
        SecurityHeaders.Configuration.validate(c)
    }

    @Test(arguments: ["max-age=1\r\nSet-Cookie: a=b", "max-age=1\n", "max-age=1\0"])
    func lineBreaksAndNULAreProblems(value: String) {
        let found = problems(.init(hsts: value))
        #expect(found.count == 1)
        #expect(found.first?.contains("hsts") == true)
    }

    @Test func nonVisibleCharactersAreProblems() {
        #expect(
            problems(.init(contentSecurityPolicy: "default-src \u{7F}'self'")).first?.contains("contentSecurityPolicy")
                == true)
        #expect(problems(.init(permissionsPolicy: "camera=()\u{1B}")).count == 1)
        #expect(
            problems(.init(contentSecurityPolicy: "default-src 'self' https://bücher.example")).first?.contains(
                "non-ASCII") == true)
    }

    @Test func tabsAndSpacesInsideAValueAreFine() {
        #expect(problems(.init(contentSecurityPolicy: "default-src\t'self';  img-src *")).isEmpty)
    }

    @Test func hstsWithoutMaxAgeIsAProblem() {
        let found = problems(.init(hsts: "includeSubDomains; preload"))
        #expect(found.count == 1)
        #expect(found.first?.contains("max-age") == true)
        #expect(found.first?.contains("RFC 6797") == true)
    }

    @Test(arguments: ["max-age=abc", "max-age=", "max-age", "max-age=-5", "max-age=1; max-age=2", "max-age=\"\""])
    func hstsWithABadMaxAgeIsAProblem(value: String) {
        #expect(problems(.init(hsts: value)).count == 1)
    }

    @Test(arguments: [
        "max-age=0", "MAX-AGE=31536000", "max-age=\"31536000\"; includeSubDomains; preload",
        "includeSubDomains; max-age=1", "max-age=1;; includeSubDomains;",
    ])
    func validHSTSValues(value: String) {
        #expect(problems(.init(hsts: value)).isEmpty)
    }

    @Test func unknownReferrerPolicyIsAProblemListingValidOnes() {
        let found = problems(.init(referrerPolicy: "strict-origin-when-crossorigin"))
        #expect(found.count == 1)
        #expect(found.first?.contains("strict-origin-when-cross-origin") == true)
        #expect(problems(.init(referrerPolicy: "no-referrer, strict-origin-when-cross-origin")).isEmpty)
    }

    @Test func unknownCrossOriginPoliciesAreProblems() {
        #expect(problems(.init(crossOriginOpenerPolicy: "same-site")).count == 1)
        #expect(problems(.init(crossOriginResourcePolicy: "same")).count == 1)
        #expect(problems(.init(crossOriginOpenerPolicy: "same-origin-allow-popups")).isEmpty)
        #expect(problems(.init(crossOriginOpenerPolicy: "same-origin; report-to=\"coop\"")).isEmpty)
        #expect(problems(.init(crossOriginResourcePolicy: "cross-origin")).isEmpty)
    }

    @Test func unquotedFrameAncestorsKeywordIsAProblem() {
        let found = problems(.init(frameAncestors: "self"))
        #expect(found.count == 1)
        #expect(found.first?.contains("'self'") == true)
        #expect(problems(.init(frameAncestors: "none")).count == 1)
    }

    @Test func frameAncestorsThatWouldEscapeTheDirectiveIsAProblem() {
        #expect(problems(.init(frameAncestors: "'self'; script-src *")).count == 1)
        #expect(problems(.init(frameAncestors: "'self', https://a.example")).count == 1)
    }

    @Test func noneCombinedWithOtherSourcesIsAProblem() {
        #expect(problems(.init(frameAncestors: "'none' https://a.example")).count == 1)
    }

    @Test func featurePolicySyntaxInPermissionsPolicyIsAProblem() {
        let found = problems(.init(permissionsPolicy: "camera 'none'; microphone 'none'"))
        #expect(found.count == 1)
        #expect(found.first?.contains("camera=()") == true)
    }

    @Test func everyProblemIsReported() {
        let c = SecurityHeaders.Configuration(
            hsts: "preload",
            referrerPolicy: "nope",
            contentSecurityPolicy: "a\nb",
            frameAncestors: "self"
        )
        #expect(problems(c).count == 4)
    }
}
