import Foundation
import MeridianSecurity
import Testing

/// Configurations that must not load, and the operator's rules around the CRS.
@Suite("WAF configuration", .enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct WAFEngineConfigurationTests {
    @Test("a bad inline rule throws with ModSecurity's message and where it came from")
    func badInlineRule() {
        let configuration = WAFEngine.Configuration(
            rulesAfterCRS: [.inline(#"SecRule ARGS "@rx foo" "id:10001,phase:2,deny,notAnAction""#)])
        let error = #expect(throws: WAFEngineError.ruleLoadFailed) { try WAFEngine(configuration: configuration) }
        let message = error?.modSecurityMessage ?? ""
        #expect(!message.isEmpty)
        #expect(message.contains("notAnAction"), "ModSecurity's parser names the offending token: \(message)")
        #expect(error?.source == "rules after the CRS, inline rules #1")
        #expect(error?.description.contains(message) == true)
    }

    @Test("a duplicate rule id is refused with ModSecurity's message")
    func duplicateID() {
        let configuration = WAFEngine.Configuration(
            rulesAfterCRS: [.inline(#"SecRule ARGS "@rx foo" "id:942100,phase:2,pass,nolog""#)])
        let error = #expect(throws: WAFEngineError.ruleLoadFailed) { try WAFEngine(configuration: configuration) }
        #expect(error?.modSecurityMessage?.contains("942100") == true, "\(String(describing: error))")
    }

    @Test("a missing rule file is refused with its path")
    func missingRuleFile() {
        let path = "/nonexistent/meridian-waf-rules.conf"
        let error = #expect(throws: WAFEngineError.ruleLoadFailed) {
            try WAFEngine(configuration: .init(rulesBeforeCRS: [.file(path)]))
        }
        #expect(error?.source == path)
    }

    @Test(
        "settings out of range are refused before ModSecurity sees them",
        arguments: [
            WAFEngine.Configuration(paranoiaLevel: 0),
            WAFEngine.Configuration(paranoiaLevel: 5),
            WAFEngine.Configuration(anomalyThreshold: 0),
            WAFEngine.Configuration(maxBodyBytes: 0),
            WAFEngine.Configuration(allowedMethods: []),
            WAFEngine.Configuration(allowedMethods: ["GET", "POST PUT"]),
            WAFEngine.Configuration(allowedMethods: ["GET'"]),
            WAFEngine.Configuration(allowedContentTypes: ["Application/JSON"]),
            WAFEngine.Configuration(allowedContentTypes: ["text/plain| |application/x-evil"]),
            WAFEngine.Configuration(allowedContentTypes: ["json"]),
            WAFEngine.Configuration(crsDirectory: "/nonexistent/crs"),
        ])
    func outOfRange(_ configuration: WAFEngine.Configuration) {
        #expect(throws: WAFEngineError.invalidConfiguration) { try WAFEngine(configuration: configuration) }
    }

    @Test("SecRuleRemoveById after the CRS is a documented way to exclude a rule")
    func exclusionAfterCRS() throws {
        let scanner = WAFFixtures.request(
            "/", headers: [("Host", "www.example.com"), ("User-Agent", "sqlmap/1.7"), ("Accept", "*/*")])
        let engine = try WAFEngine(configuration: .init(rulesAfterCRS: [.inline("SecRuleRemoveById 913100\n")]))
        let verdict = engine.inspect(scanner)
        #expect(!verdict.blocked)
        #expect(verdict.matchedRuleIDs.isEmpty)
    }

    @Test("the operator's own rule runs and is reported")
    func operatorRule() throws {
        let rule =
            #"SecRule REQUEST_HEADERS:X-Internal-Debug "@streq 1" "id:10010,phase:1,deny,status:403,log,msg:'Debug header from outside'""#
        let engine = try WAFEngine(configuration: .init(rulesAfterCRS: [.inline(rule)]))
        let verdict = engine.inspect(
            WAFFixtures.request("/", headers: WAFFixtures.curlHeaders() + [("X-Internal-Debug", "1")]))
        #expect(verdict.blocked)
        #expect(verdict.matchedRuleIDs == [10010])
        #expect(verdict.messages == ["Debug header from outside"])
    }
}
