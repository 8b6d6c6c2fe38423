import Foundation
import MeridianSecurity
import Testing

/// False positives the CRS 3.3.4 produces at PL1 on traffic Meridian carries, and the documented,
/// narrow way each is handled. None disables a rule family: a policy setting, or an exclusion
/// limited to one rule and one target (or one kind of client).
@Suite("WAF false positives and their exclusions", .enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct WAFEngineFalsePositiveTests {
    static let graphQLQuery =
        #"{"query":"query GetUser($id: ID!) { user(id: $id) { name email posts(first: 10) { title } } }","variables":{"id":"42"}}"#

    /// Runtime exclusion for a GraphQL endpoint: 942190 ("MSSQL code execution") reads GraphQL's
    /// `query … { … }` syntax as SQL. Only that rule, only the `query` field, only on /graphql;
    /// every other rule still reads the query, and 942190 still reads the variables.
    static let graphQLExclusion = #"""
        SecRule REQUEST_FILENAME "@streq /graphql" \
            "id:10100,phase:1,pass,nolog,ctl:ruleRemoveTargetById=942190;ARGS:json.query"
        """#

    /// CRS 920350 scores a numeric Host (3) because scanners address sites by IP. Loopback clients
    /// (health checks, sidecars, Meridian's own tests) do that legitimately; remote ones still score.
    static let loopbackNumericHostExclusion = #"""
        SecRule REMOTE_ADDR "@ipMatch 127.0.0.1,::1" \
            "id:10101,phase:1,pass,nolog,ctl:ruleRemoveById=920350"
        """#

    static let excludingEngine = Result {
        try WAFEngine(
            configuration: .init(
                allowedMethods: WAFEngine.Configuration.crsDefaultAllowedMethods + ["PUT"],
                rulesBeforeCRS: [.inline(graphQLExclusion), .inline(loopbackNumericHostExclusion)]))
    }

    @Test("a GraphQL query is blocked by 942190 at PL1 by default")
    func graphQLFalsePositive() throws {
        let verdict = try WAFFixtures.blockingPL1.get().inspect(
            WAFFixtures.post("/graphql", contentType: "application/json", body: Self.graphQLQuery))
        #expect(verdict.blocked)
        #expect(verdict.matchedRuleIDs == [942190, 949110])
    }

    @Test("with the GraphQL exclusion the query passes and SQLi in its variables is still blocked")
    func graphQLExclusion() throws {
        let engine = try Self.excludingEngine.get()
        let query = engine.inspect(
            WAFFixtures.post("/graphql", contentType: "application/json", body: Self.graphQLQuery))
        #expect(!query.blocked)
        #expect(query.matchedRuleIDs.isEmpty)

        let injected = engine.inspect(
            WAFFixtures.post(
                "/graphql", contentType: "application/json",
                body: #"{"query":"query { user(id: $id) { name } }","variables":{"id":"1' OR '1'='1"}}"#))
        #expect(injected.blocked)
        #expect(injected.matchedRuleIDs.contains(942100))
    }

    /// `curl -T file http://127.0.0.1:PORT/…` (as Meridian's upload tests do): PUT with a body and
    /// no Content-Type. With PUT allowed, 920340 (body without Content-Type, 2) plus 920350
    /// (numeric Host, 3) reach the threshold of 5: blocked, though neither blocks alone.
    @Test("curl -T to 127.0.0.1 is blocked by 920340 + 920350 unless loopback is excluded from 920350")
    func curlUploadToLoopback() throws {
        let upload = WAFRequest(
            method: "PUT", uri: "/up/data.bin",
            headers: WAFFixtures.curlHeaders(host: "127.0.0.1:49152") + [("Content-Length", "2048")],
            body: Array(repeating: 0x61, count: 2048),
            clientAddress: "127.0.0.1", clientPort: 50_000, serverAddress: "127.0.0.1", serverPort: 49_152,
            requestID: "upload-1")
        let allowingPUT = try WAFEngine(
            configuration: .init(allowedMethods: WAFEngine.Configuration.crsDefaultAllowedMethods + ["PUT"]))
        let plain = allowingPUT.inspect(upload)
        #expect(plain.blocked)
        #expect(Set(plain.matchedRuleIDs) == [920340, 920350, 949110])
        #expect(plain.anomalyScore == 5)

        let excluded = try Self.excludingEngine.get().inspect(upload)
        #expect(!excluded.blocked)
        #expect(excluded.matchedRuleIDs == [920340])

        var remote = upload
        remote.clientAddress = "198.51.100.23"
        #expect(try Self.excludingEngine.get().inspect(remote).blocked, "the exclusion is for loopback clients only")
    }

    @Test("a Content-Type outside the CRS list is blocked by 920420 unless the configuration allows it")
    func contentTypePolicy() throws {
        let upload = WAFFixtures.post(
            "/up/data.bin", contentType: "application/octet-stream", body: String(repeating: "x", count: 512),
            headers: WAFFixtures.curlHeaders())
        let strict = try WAFFixtures.blockingPL1.get().inspect(upload)
        #expect(strict.blocked)
        #expect(strict.matchedRuleIDs == [920420, 949110])

        let allowing = try WAFEngine(
            configuration: .init(
                allowedContentTypes: WAFEngine.Configuration.crsDefaultAllowedContentTypes + [
                    "application/octet-stream"
                ]))
        let allowed = allowing.inspect(upload)
        #expect(!allowed.blocked)
        #expect(allowed.matchedRuleIDs.isEmpty)
    }
}
