import Testing

@testable import MeridianSecurity

/// The SecLang Meridian generates from its configuration.
@Suite("WAF generated directives")
struct WAFDirectivesTests {
    @Test("the CRS setup version comes from the rules' ver tag")
    func setupVersion() {
        #expect(WAFDirectives.setupVersion(fromRuleText: "    ver:'OWASP_CRS/3.3.4',\\") == 334)
        #expect(WAFDirectives.setupVersion(fromRuleText: "ver:'OWASP_CRS/3.2.0'") == 320)
        #expect(
            WAFDirectives.setupVersion(fromRuleText: "ver:'OWASP_CRS/4.10.0'") == nil, "CRS 4 has no 3-digit encoding")
        #expect(WAFDirectives.setupVersion(fromRuleText: "no version here") == nil)
    }

    @Test("mode, bound and CRS variables follow the configuration")
    func followsConfiguration() {
        let configuration = WAFEngine.Configuration(
            mode: .detection, paranoiaLevel: 3, anomalyThreshold: 10, maxBodyBytes: 4096,
            allowedMethods: ["GET", "PUT"], allowedContentTypes: ["application/json", "text/plain"])
        let engine = WAFDirectives.engine(configuration)
        #expect(engine.contains("SecRuleEngine DetectionOnly\n"))
        #expect(engine.contains("SecRequestBodyLimit 4096\n"))
        #expect(engine.contains("SecRequestBodyNoFilesLimit 4096\n"))
        #expect(engine.contains("SecRequestBodyLimitAction ProcessPartial\n"))
        #expect(!engine.contains("SecDefaultAction"), "the setup file provides them")

        let variables = WAFDirectives.crsVariables(configuration, setupVersion: 334)
        for expected in [
            "setvar:tx.paranoia_level=3", "setvar:tx.executing_paranoia_level=3",
            "setvar:tx.blocking_paranoia_level=3", "setvar:tx.inbound_anomaly_score_threshold=10",
            "setvar:'tx.allowed_methods=GET PUT'",
            "setvar:'tx.allowed_request_content_type=|application/json| |text/plain|'",
            "setvar:tx.crs_setup_version=334",
        ] {
            #expect(variables.contains(expected))
        }
        #expect(WAFDirectives.engine(.init(mode: .blocking, crsSetupFile: nil)).contains("SecRuleEngine On\n"))
        #expect(
            WAFDirectives.engine(.init(crsSetupFile: nil)).contains(#"SecDefaultAction "phase:2,log,auditlog,pass""#))
    }
}
