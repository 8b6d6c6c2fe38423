import MeridianSecurity
import MeridianConfig
import NIOHTTP1
import Testing

@Suite("SecurityHeaders")
struct SecurityHeadersTests {
    static let basic = [
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: SAMEORIGIN",
        "Referrer-Policy: strict-origin-when-cross-origin",
        "Content-Security-Policy: frame-ancestors 'self'",
        "Cross-Origin-Opener-Policy: same-origin",
    ]

    static let strict = [
        "Strict-Transport-Security: max-age=63072000; includeSubDomains",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
        "Referrer-Policy: no-referrer",
        "Content-Security-Policy: default-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
        "Permissions-Policy: camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy: same-origin",
        "Cross-Origin-Resource-Policy: same-origin",
    ]

    private func applied(_ configuration: SecurityHeaders.Configuration, to start: HTTPHeaders = HTTPHeaders()) throws
        -> [String]
    {
        var response = start
        try SecurityHeaders(configuration).apply(to: &response)
        return lines(response)
    }

    // MARK: Presets

    @Test func presetsAreNamedForConfiguration() {
        #expect(SecurityHeaders.Preset.allCases == [.basic, .strict])
        #expect(SecurityHeaders.Preset(rawValue: "strict") == .strict)
        #expect(SecurityHeaders.Preset.basic.rawValue == "basic")
    }

    @Test func basicPresetHeaders() throws {
        #expect(try applied(.init(preset: .basic)) == Self.basic)
    }

    @Test func strictPresetHeaders() throws {
        #expect(try applied(.init(preset: .strict)) == Self.strict)
    }

    @Test func presetFieldsAreResolvedIntoTheConfiguration() {
        let c = SecurityHeaders.Configuration(preset: .strict)
        #expect(c.hsts == "max-age=63072000; includeSubDomains")
        #expect(c.contentTypeOptions)
        #expect(c.referrerPolicy == "no-referrer")
        #expect(c.contentSecurityPolicy == "default-src 'self'; object-src 'none'; base-uri 'self'")
        #expect(c.permissionsPolicy == "camera=(), microphone=(), geolocation=(), payment=()")
        #expect(c.crossOriginOpenerPolicy == "same-origin")
        #expect(c.crossOriginResourcePolicy == "same-origin")
        #expect(c.frameAncestors == "'none'")
        #expect(c.override == false)
    }

    @Test func presetsValidate() {
        for preset in SecurityHeaders.Preset.allCases {
            #expect(SecurityHeaders.Configuration.validate(.init(preset: preset)).isEmpty)
        }
    }

    @Test func noPresetAndNoFieldsSendsNothing() throws {
        #expect(try applied(.init()).isEmpty)
        #expect(try SecurityHeaders(.init()).headers.isEmpty)
    }

    @Test func fieldsWithoutAPreset() throws {
        let c = SecurityHeaders.Configuration(
            hsts: "max-age=300",
            contentTypeOptions: true,
            crossOriginResourcePolicy: "cross-origin"
        )
        #expect(
            try applied(c) == [
                "Strict-Transport-Security: max-age=300",
                "X-Content-Type-Options: nosniff",
                "Cross-Origin-Resource-Policy: cross-origin",
            ]
        )
    }

    // MARK: Per-field overrides and removal

    @Test func fieldOverridesThePresetValue() throws {
        let c = SecurityHeaders.Configuration(preset: .strict, referrerPolicy: "same-origin")
        #expect(try applied(c).contains("Referrer-Policy: same-origin"))
        #expect(!(try applied(c)).contains("Referrer-Policy: no-referrer"))
    }

    @Test func emptyStringRemovesAPresetHeader() throws {
        let c = SecurityHeaders.Configuration(preset: .strict, hsts: "", permissionsPolicy: "")
        #expect(c.hsts == nil)
        #expect(c.permissionsPolicy == nil)
        let out = try applied(c)
        #expect(!out.contains { $0.hasPrefix("Strict-Transport-Security") })
        #expect(!out.contains { $0.hasPrefix("Permissions-Policy") })
        #expect(out.count == Self.strict.count - 2)
    }

    @Test func falseRemovesNosniff() throws {
        let out = try applied(.init(preset: .basic, contentTypeOptions: false))
        #expect(!out.contains { $0.hasPrefix("X-Content-Type-Options") })
    }

    @Test func removingFrameAncestorsDropsTheDirectiveAndXFrameOptions() throws {
        let out = try applied(.init(preset: .strict, frameAncestors: ""))
        #expect(!out.contains { $0.hasPrefix("X-Frame-Options") })
        #expect(out.contains("Content-Security-Policy: default-src 'self'; object-src 'none'; base-uri 'self'"))
    }

    @Test func removingTheCSPKeepsFrameAncestorsAsItsOwnPolicy() throws {
        let out = try applied(.init(preset: .strict, contentSecurityPolicy: ""))
        #expect(out.contains("Content-Security-Policy: frame-ancestors 'none'"))
        #expect(out.contains("X-Frame-Options: DENY"))
    }

    @Test func emptyStringSetDirectlyOnTheConfigurationAlsoRemoves() throws {
        var c = SecurityHeaders.Configuration(preset: .basic)
        c.referrerPolicy = ""
        #expect(!(try applied(c)).contains { $0.hasPrefix("Referrer-Policy") })
    }

    // MARK: frame-ancestors

    @Test func frameAncestorsIsAppendedToAnExistingCSP() throws {
        let c = SecurityHeaders.Configuration(
            contentSecurityPolicy: "default-src 'self'",
            frameAncestors: "'self' https://partner.example"
        )
        #expect(
            try applied(c) == [
                "Content-Security-Policy: default-src 'self'; frame-ancestors 'self' https://partner.example"
            ])
    }

    @Test func frameAncestorsAppendsCleanlyAfterATrailingSemicolon() throws {
        let c = SecurityHeaders.Configuration(contentSecurityPolicy: "default-src 'self'; ", frameAncestors: "'none'")
        #expect(
            try applied(c) == [
                "X-Frame-Options: DENY",
                "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'",
            ]
        )
    }

    @Test func frameAncestorsAloneIsACSPOfItsOwn() throws {
        #expect(
            try applied(.init(frameAncestors: "'self'")) == [
                "X-Frame-Options: SAMEORIGIN",
                "Content-Security-Policy: frame-ancestors 'self'",
            ]
        )
    }

    @Test func xFrameOptionsIsOnlyDerivedFromNoneOrSelf() throws {
        #expect(try applied(.init(frameAncestors: "'NONE'")).contains("X-Frame-Options: DENY"))
        #expect(
            try applied(.init(frameAncestors: "https://partner.example")) == [
                "Content-Security-Policy: frame-ancestors https://partner.example"
            ])
    }

    @Test func aMatchingFrameAncestorsDirectiveInTheCSPIsNotDuplicated() throws {
        let c = SecurityHeaders.Configuration(
            contentSecurityPolicy: "default-src 'self'; frame-ancestors 'none'; img-src *",
            frameAncestors: "'none'"
        )
        #expect(SecurityHeaders.Configuration.validate(c).isEmpty)
        #expect(
            try applied(c) == [
                "X-Frame-Options: DENY",
                "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'; img-src *",
            ]
        )
    }

    @Test func aConflictingFrameAncestorsDirectiveInTheCSPIsAProblem() {
        let c = SecurityHeaders.Configuration(
            preset: .strict,
            contentSecurityPolicy: "default-src 'self'; Frame-Ancestors 'self'"
        )
        let found = SecurityHeaders.Configuration.validate(c)
        #expect(found.count == 1)
        #expect(found.first?.contains("frame-ancestors") == true)
        #expect(found.first?.contains("frameAncestors: \"\"") == true)
    }

    // MARK: override

    @Test func withoutOverrideTheUpstreamsHeadersAreKept() throws {
        let upstream = headers(
            ("content-security-policy", "default-src https:"),
            ("x-frame-options", "SAMEORIGIN")
        )
        let out = try applied(.init(preset: .strict), to: upstream)
        #expect(
            out.filter { $0.lowercased().hasPrefix("content-security-policy") } == [
                "content-security-policy: default-src https:"
            ])
        #expect(out.filter { $0.lowercased().hasPrefix("x-frame-options") } == ["x-frame-options: SAMEORIGIN"])
        #expect(out.count == Self.strict.count)
    }

    @Test func withOverrideTheUpstreamsHeadersAreReplaced() throws {
        let upstream = headers(
            ("content-security-policy", "default-src https:"),
            ("Content-Security-Policy", "img-src *"),
            ("Referrer-Policy", "unsafe-url"),
            ("Content-Type", "text/html")
        )
        let out = try applied(.init(preset: .strict, override: true), to: upstream)
        #expect(out.first == "Content-Type: text/html")
        #expect(Array(out.dropFirst()) == Self.strict)
    }

    @Test func applyIsIdempotent() throws {
        for override in [false, true] {
            let sh = try SecurityHeaders(.init(preset: .strict, override: override))
            var once = HTTPHeaders()
            sh.apply(to: &once)
            var twice = once
            sh.apply(to: &twice)
            #expect(lines(once) == lines(twice))
        }
    }

    @Test func valuesAreTrimmed() throws {
        #expect(try applied(.init(referrerPolicy: "  origin ")) == ["Referrer-Policy: origin"])
    }

    @Test func initRefusesAnInvalidConfiguration() {
        do {
            _ = try SecurityHeaders(.init(hsts: "includeSubDomains"))
            Issue.record("expected a refusal")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.description.contains("max-age"))
        }
    }

    @Test func frameAncestorsAfterAPolicyOfOnlySeparators() throws {
        #expect(
            try applied(.init(contentSecurityPolicy: " ; ", frameAncestors: "https://a.example")) == [
                "Content-Security-Policy: frame-ancestors https://a.example"
            ])
    }

    @Test func frameAncestorsAfterAValuelessDirective() throws {
        let c = SecurityHeaders.Configuration(
            contentSecurityPolicy: "upgrade-insecure-requests", frameAncestors: "'self'")
        #expect(try applied(c).contains("Content-Security-Policy: upgrade-insecure-requests; frame-ancestors 'self'"))
    }
}
