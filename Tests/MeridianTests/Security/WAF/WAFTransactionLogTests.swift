import Testing

@testable import MeridianSecurity

/// Parsing ModSecurity's error-log lines, on lines copied from libmodsecurity 3.0.9's output.
@Suite("WAF log line parsing")
struct WAFTransactionLogTests {
    static let sqliLine =
        #"ModSecurity: Warning. detected SQLi using libinjection. [file "/usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf"] [line "46"] [id "942100"] [rev ""] [msg "SQL Injection Attack Detected via libinjection"] [data "Matched Data: s&sos found within ARGS:id: 1' OR '1'='1"] [severity "2"] [ver "OWASP_CRS/3.3.4"] [maturity "0"] [accuracy "0"] [tag "application-multi"] [hostname "10.1.0.5"] [uri "/products"] [unique_id "test-request-1"] [ref "v18,11"]"#

    static let denyLine =
        #"[client 198.51.100.23] ModSecurity: Access denied with code 403 (phase 2). Matched "Operator `Ge' with parameter `5' against variable `TX:ANOMALY_SCORE' (Value: `5' ) [file "/usr/share/modsecurity-crs/rules/REQUEST-949-BLOCKING-EVALUATION.conf"] [line "80"] [id "949110"] [rev ""] [msg "Inbound Anomaly Score Exceeded (Total Score: 5)"] [data ""] [severity "2"] [ver "OWASP_CRS/3.3.4"] [maturity "0"] [accuracy "0"] [hostname "10.1.0.5"] [uri "/products"] [unique_id "test-request-1"] [ref ""]"#

    static let scoreLine =
        #"ModSecurity: Warning. Matched "Operator `Gt' with parameter `0' against variable `TX:ANOMALY_SCORE' (Value: `5' ) [file ""] [line "1"] [id "99020"] [rev ""] [msg "Meridian inbound anomaly score 5"] [data ""] [severity "0"] [ver ""] [maturity "0"] [accuracy "0"] [hostname "10.1.0.5"] [uri "/products"] [unique_id "test-request-1"] [ref "v0,1"]"#

    static func record(_ lines: [String]) -> WAFTransactionLog {
        var log = WAFTransactionLog()
        for line in lines {
            line.withCString { log.record($0) }
        }
        return log
    }

    @Test("ids, messages and the reported score")
    func parsesLines() {
        let log = Self.record([Self.sqliLine, Self.denyLine, Self.scoreLine])
        #expect(log.matchedRuleIDs == [942100, 949110])
        #expect(
            log.messages == [
                "SQL Injection Attack Detected via libinjection", "Inbound Anomaly Score Exceeded (Total Score: 5)",
            ])
        #expect(log.anomalyScore == 5)
    }

    @Test("a rule matched twice is reported once")
    func deduplicates() {
        #expect(Self.record([Self.sqliLine, Self.sqliLine]).matchedRuleIDs == [942100])
    }

    /// The matched value is quoted unescaped before the real fields: a request can carry a fake
    /// `[id "…"]`, but not one inside a complete `"] [line "…"] [id "…"] [rev "` run.
    @Test("a fake id planted in the matched value is skipped")
    func plantedID() {
        let planted =
            #"ModSecurity: Warning. Matched "Operator `Rx' with parameter `x' against variable `ARGS:q' (Value: `[id "1"] [msg "harmless"] [data "' )"#
            + #" [file "/usr/share/modsecurity-crs/rules/REQUEST-941-APPLICATION-ATTACK-XSS.conf"] [line "64"] [id "941110"] [rev ""] [msg "XSS Filter - Category 1: Script Tag Vector"] [data "x"] [severity "2"]"#
        let log = Self.record([planted])
        #expect(log.matchedRuleIDs == [941110])
        #expect(log.messages == ["XSS Filter - Category 1: Script Tag Vector"])
    }

    @Test(
        "lines without a rule id are ignored",
        arguments: ["", "ModSecurity: Warning.", #"[id "12"]"#, #"] [line "x"] [id "5"] [rev ""#])
    func ignoresMalformed(_ line: String) {
        #expect(Self.record([line]).matchedRuleIDs.isEmpty)
    }

    @Test("messages are bounded in count and length")
    func boundsMessages() {
        let long = String(repeating: "m", count: 500)
        let lines = (0..<40).map { id in
            #"x [file ""] [line "1"] [id "\#(100_000 + id)"] [rev ""] [msg "\#(long)"] [data ""]"#
        }
        let log = Self.record(lines)
        #expect(log.matchedRuleIDs.count == 40)
        #expect(log.messages.count == WAFVerdict.maximumMessages)
        #expect(log.messages.allSatisfy { $0.count == WAFVerdict.maximumMessageLength })
    }

    @Test("request ids are kept when clean and cleaned otherwise")
    func transactionIDs() {
        #expect(
            WAFEngine.transactionID("0f8b6c1e-3a52-4d8e-9b7a-2c4e6f8a1b3d") == "0f8b6c1e-3a52-4d8e-9b7a-2c4e6f8a1b3d")
        #expect(WAFEngine.transactionID(#"abc"] [id "1"#) == "abc____id__1")
        #expect(WAFEngine.transactionID("") == "-")
        #expect(WAFEngine.transactionID(String(repeating: "a", count: 300)).count == 128)
    }
}
