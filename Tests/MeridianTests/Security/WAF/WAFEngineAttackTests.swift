import Foundation
import MeridianSecurity
import Testing

/// Real attack payloads against the real CRS 3.3.4 at paranoia level 1, blocking mode.
@Suite("WAF blocks attacks at PL1", .enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct WAFEngineAttackTests {
    struct Attack: Sendable, CustomTestStringConvertible {
        let name: String
        let request: WAFRequest
        /// The CRS file family the payload must be caught by: 942 SQLi, 941 XSS, 930 LFI, 932 RCE, 913 scanner.
        let family: Int
        var testDescription: String { name }
    }

    static let attacks: [Attack] = [
        Attack(
            name: "SQLi: ?id=1' OR '1'='1", request: WAFFixtures.request("/products?id=1'%20OR%20'1'='1"), family: 942),
        Attack(
            name: "SQLi: UNION SELECT",
            request: WAFFixtures.request("/products?id=1%20UNION%20SELECT%20username,password%20FROM%20users--"),
            family: 942),
        Attack(
            name: "SQLi: in a JSON body",
            request: WAFFixtures.post(
                "/api/login", contentType: "application/json", body: #"{"user":"admin' OR 1=1 --","password":"x"}"#),
            family: 942),
        Attack(
            name: "XSS: <script> in a query",
            request: WAFFixtures.request("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"), family: 941),
        Attack(
            name: "XSS: <script> in a form body",
            request: WAFFixtures.post(
                "/comments", contentType: "application/x-www-form-urlencoded",
                body: "author=eve&comment=%3Cscript%3Ealert%281%29%3C%2Fscript%3E"),
            family: 941),
        Attack(name: "LFI: /../../etc/passwd", request: WAFFixtures.request("/../../etc/passwd"), family: 930),
        Attack(
            name: "LFI: ..%2f..%2f encoded traversal",
            request: WAFFixtures.request("/static/..%2f..%2f..%2fetc%2fpasswd"), family: 930),
        Attack(
            name: "RCE: ;cat /etc/passwd", request: WAFFixtures.request("/ping?host=127.0.0.1;cat%20/etc/passwd"),
            family: 932),
        Attack(name: "RCE: $(id)", request: WAFFixtures.request("/ping?host=%24(id)"), family: 932),
        Attack(
            name: "Scanner: sqlmap/1.7 user agent",
            request: WAFFixtures.request(
                "/products?id=1",
                headers: [
                    ("Host", "www.example.com"), ("User-Agent", "sqlmap/1.7.2#stable (https://sqlmap.org)"),
                    ("Accept", "*/*"),
                ]),
            family: 913),
        Attack(
            name: "Scanner: Nikto user agent",
            request: WAFFixtures.request(
                "/",
                headers: [
                    ("Host", "www.example.com"),
                    ("User-Agent", "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)"),
                    ("Accept", "*/*"),
                ]),
            family: 913),
    ]

    @Test("blocked with the rule family's ids and a score over the threshold", arguments: attacks)
    func attackIsBlocked(_ attack: Attack) throws {
        let engine = try WAFFixtures.blockingPL1.get()
        let verdict = engine.inspect(attack.request)

        #expect(verdict.blocked, "\(verdict)")
        #expect(verdict.status == 403)
        #expect(
            !verdict.ids(inFamily: attack.family).isEmpty, "no \(attack.family)xxx rule in \(verdict.matchedRuleIDs)")
        #expect(verdict.matchedRuleIDs.contains(949110), "the blocking evaluation rule reports the decision")
        #expect(verdict.anomalyScore >= engine.configuration.anomalyThreshold)
        #expect(
            verdict.messages.contains {
                $0.hasPrefix("Inbound Anomaly Score Exceeded (Total Score: \(verdict.anomalyScore))")
            })
    }

    @Test("a disallowed method is blocked by 911100 unless the configuration allows it")
    func methodPolicy() throws {
        let put = WAFFixtures.request("/uploads/report.pdf", method: "PUT", headers: WAFFixtures.curlHeaders())
        let defaultVerdict = try WAFFixtures.blockingPL1.get().inspect(put)
        #expect(defaultVerdict.blocked)
        #expect(defaultVerdict.matchedRuleIDs.first == 911100)

        let allowing = try WAFEngine(
            configuration: .init(allowedMethods: ["GET", "HEAD", "POST", "OPTIONS", "PUT", "PATCH", "DELETE"]))
        let allowed = allowing.inspect(put)
        #expect(!allowed.blocked)
        #expect(allowed.matchedRuleIDs.isEmpty, "\(allowed)")
    }
}
