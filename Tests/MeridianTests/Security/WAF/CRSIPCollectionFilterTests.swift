import Testing

@testable import MeridianSecurity

#if canImport(Glibc)
    import Glibc
#endif

/// The filter that keeps CRS 913's scanner rules from writing libmodsecurity 3.0.9's IP collection.
@Suite("CRS IP-collection filter")
struct CRSIPCollectionFilterTests {
    static let rulesDirectory = WAFEngine.Configuration.debianCRSDirectory + "/rules"

    @Test("on the installed REQUEST-913: every ip.* action goes, every rule and score stays")
    func installedScannerRules() throws {
        let text = try Self.read(Self.rulesDirectory + "/" + CRSIPCollectionFilter.scannerDetectionFile)
        let output = try CRSIPCollectionFilter(dataDirectory: Self.rulesDirectory).filter(text, source: "913")

        #expect(output.removedActions == 15, "five rules × (two setvar + one expirevar)")
        #expect(!output.text.contains("'ip."))
        #expect(Self.count("id:913", in: output.text) == Self.count("id:913", in: text))
        #expect(Self.count("tx.anomaly_score_pl", in: output.text) == Self.count("tx.anomaly_score_pl", in: text))
        #expect(output.text.contains("@pmFromFile \(Self.rulesDirectory)/scanners-user-agents.data"))
        #expect(!output.text.contains("@pmFromFile scanners"))
    }

    @Test("an action list closed by a removed action is closed on the action before it")
    func closesActionList() throws {
        let rule = """
            SecRule REQUEST_HEADERS:User-Agent "@pmFromFile agents.data" \\
                "id:913100,\\
                setvar:'tx.anomaly_score_pl1=+%{tx.critical_anomaly_score}',\\
                setvar:'ip.reput_block_flag=1',\\
                expirevar:'ip.reput_block_flag=%{tx.reput_block_duration}'"
            """
        let output = try CRSIPCollectionFilter(dataDirectory: "/crs/rules").filter(rule, source: "test")
        #expect(
            output.text == """
                SecRule REQUEST_HEADERS:User-Agent "@pmFromFile /crs/rules/agents.data" \\
                    "id:913100,\\
                    setvar:'tx.anomaly_score_pl1=+%{tx.critical_anomaly_score}'"
                """)
        #expect(output.removedActions == 2)
    }

    @Test("a layout it does not know fails the load instead of guessing")
    func unknownLayout() {
        let rule = """
            SecRule REQUEST_HEADERS:User-Agent "@rx x" \\
                "id:913999,setvar:'tx.a=1',
                setvar:'ip.flag=1'"
            """
        #expect(throws: WAFEngineError.invalidConfiguration) {
            try CRSIPCollectionFilter(dataDirectory: "/crs/rules").filter(rule, source: "test")
        }
    }

    static func count(_ needle: String, in text: String) -> Int {
        var count = 0
        var rest = Substring(text)
        while let range = rest.firstRange(of: needle) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }

    static func read(_ path: String) throws -> String {
        guard let file = fopen(path, "rb") else { throw ReadError(path: path) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while case let count = fread(&buffer, 1, buffer.count, file), count > 0 {
            bytes.append(contentsOf: buffer[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    struct ReadError: Error {
        let path: String
    }
}
