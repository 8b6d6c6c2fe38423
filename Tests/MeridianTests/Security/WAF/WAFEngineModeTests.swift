import Foundation
import MeridianSecurity
import Testing

/// Detection mode, the body bound, and running without a CRS setup file.
@Suite("WAF modes and body bound", .enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct WAFEngineModeTests {
    static let boundedEngine = Result { try WAFEngine(configuration: .init(maxBodyBytes: 1024)) }

    @Test("detection mode reports the same attack's rule ids without blocking")
    func detectionReports() throws {
        let attack = WAFFixtures.request("/products?id=1'%20OR%20'1'='1")
        let detected = try WAFFixtures.detectionPL1.get().inspect(attack)
        let blocked = try WAFFixtures.blockingPL1.get().inspect(attack)

        #expect(!detected.blocked)
        #expect(detected.status == nil)
        #expect(detected.matchedRuleIDs.contains(942100))
        #expect(detected.matchedRuleIDs.contains(949110), "949110 still logs when it does not deny")
        #expect(detected.anomalyScore >= 5)
        #expect(detected.matchedRuleIDs == blocked.matchedRuleIDs)
        #expect(detected.anomalyScore == blocked.anomalyScore)
        #expect(blocked.blocked)
    }

    @Test(
        "a body over maxBodyBytes is inspected up to the bound and not blocked for its size",
        arguments: [
            ("application/x-www-form-urlencoded", WAFEngineModeTests.formBody(bytes: 4096)),
            ("application/json", WAFEngineModeTests.jsonBody(bytes: 4096)),
        ])
    func largeBenignBody(contentType: String, body: String) throws {
        let verdict = try Self.boundedEngine.get().inspect(
            WAFFixtures.post("/api/import", contentType: contentType, body: body))
        #expect(verdict.bodyTruncated)
        #expect(!verdict.blocked)
        #expect(verdict.matchedRuleIDs.isEmpty, "\(verdict.matchedRuleIDs): \(verdict.messages)")
    }

    @Test("an attack inside the bound of a large body is still caught")
    func attackInsideBound() throws {
        let body = "comment=%3Cscript%3Ealert%281%29%3C%2Fscript%3E&" + Self.formBody(bytes: 4096)
        let verdict = try Self.boundedEngine.get().inspect(
            WAFFixtures.post("/comments", contentType: "application/x-www-form-urlencoded", body: body))
        #expect(verdict.bodyTruncated)
        #expect(verdict.blocked)
        #expect(!verdict.ids(inFamily: 941).isEmpty)
    }

    /// The bound is a real limit: what lies past it is not inspected. Meridian's body-size limit
    /// (or a route's own) decides whether such a body is accepted at all.
    @Test("an attack past the bound is not seen")
    func attackPastBound() throws {
        let body = Self.formBody(bytes: 2048) + "&comment=%3Cscript%3Ealert%281%29%3C%2Fscript%3E"
        let verdict = try Self.boundedEngine.get().inspect(
            WAFFixtures.post("/comments", contentType: "application/x-www-form-urlencoded", body: body))
        #expect(verdict.bodyTruncated)
        #expect(!verdict.blocked)
    }

    @Test("a JSON body that does not parse (and was not cut) is refused with 400 by rule 99002")
    func malformedJSON() throws {
        let verdict = try WAFFixtures.blockingPL1.get().inspect(
            WAFFixtures.post("/api/users", contentType: "application/json", body: #"{"name": "Ada", "#))
        #expect(verdict.blocked)
        #expect(verdict.status == 400)
        #expect(verdict.matchedRuleIDs == [99002])
        #expect(!verdict.bodyTruncated)
    }

    @Test("without a CRS setup file the engine writes the default actions itself")
    func withoutSetupFile() throws {
        let engine = try WAFEngine(configuration: .init(crsSetupFile: nil))
        let attack = engine.inspect(WAFFixtures.request("/products?id=1'%20OR%20'1'='1"))
        #expect(attack.blocked)
        #expect(attack.matchedRuleIDs.contains(942100))
        let benign = engine.inspect(WAFFixtures.request("/api/users/42?sort=name&page=2"))
        #expect(!benign.blocked)
        #expect(benign.matchedRuleIDs.isEmpty)
    }

    @Test("paranoia level 2 finds more in the same attack than level 1")
    func paranoiaLevel2() throws {
        let attack = WAFFixtures.request("/products?id=1'%20OR%20'1'='1")
        let pl2 = try WAFEngine(configuration: .init(paranoiaLevel: 2)).inspect(attack)
        let pl1 = try WAFFixtures.blockingPL1.get().inspect(attack)
        #expect(pl2.blocked)
        #expect(pl2.anomalyScore > pl1.anomalyScore)
        #expect(pl2.ids(inFamily: 942).count > pl1.ids(inFamily: 942).count)
    }

    static func formBody(bytes: Int) -> String {
        var body = ""
        var index = 0
        while body.utf8.count < bytes {
            body += (body.isEmpty ? "" : "&") + "item\(index)=plain+value+number+\(index)"
            index += 1
        }
        return body
    }

    static func jsonBody(bytes: Int) -> String {
        var items: [String] = []
        while items.joined(separator: ",").utf8.count < bytes {
            items.append(#"{"id":\#(items.count),"name":"Item \#(items.count)","price":12.5}"#)
        }
        return "[" + items.joined(separator: ",") + "]"
    }
}
