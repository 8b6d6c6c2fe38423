import Foundation
import MeridianSecurity
import Testing

/// Ordinary traffic must pass the CRS at PL1 untouched: not blocked, and no rule matched at all,
/// so a false positive that scores below the threshold shows up here too.
@Suite("WAF lets ordinary traffic through at PL1", .enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct WAFEngineBenignTests {
    struct Benign: Sendable, CustomTestStringConvertible {
        let name: String
        let request: WAFRequest
        var testDescription: String { name }
    }

    static let jsonDocument = #"""
        {"name":"Ada Lovelace","email":"ada@example.org","roles":["admin","editor"],"age":36,"active":true,
         "address":{"street":"12 St James's Square","city":"London","postcode":"SW1Y 4JH"},
         "bio":"Mathematician and writer, known for her work on the Analytical Engine.",
         "tags":["history","computing"],"updated":"2024-05-01T12:30:00Z"}
        """#

    static let cases: [Benign] = [
        Benign(name: "GET / from Firefox", request: WAFFixtures.request("/")),
        Benign(
            name: "GET /index.html from Chrome",
            request: WAFFixtures.request(
                "/index.html", headers: WAFFixtures.browserHeaders(userAgent: WAFFixtures.chromeUserAgent))),
        Benign(
            name: "GET /api/users/42?sort=name&page=2", request: WAFFixtures.request("/api/users/42?sort=name&page=2")),
        Benign(name: "GET static assets", request: WAFFixtures.request("/assets/app.3f9c2b.js?v=1.4.2")),
        Benign(
            name: "POST JSON",
            request: WAFFixtures.post("/api/users", contentType: "application/json", body: jsonDocument)),
        Benign(
            name: "POST a form with ordinary text",
            request: WAFFixtures.post(
                "/contact", contentType: "application/x-www-form-urlencoded",
                body: "name=Jane+Doe&email=jane%40example.com&subject=Tickets"
                    + "&message=Hello%2C+I+would+like+to+order+two+tickets+for+Saturday+evening.+Thanks+a+lot%21")),
        Benign(
            name: "HTTP/2 GET, lowercase headers, host from :authority",
            request: WAFFixtures.request(
                "/api/users/42", version: .http2,
                headers: WAFFixtures.browserHeaders().map { (name: $0.name.lowercased(), value: $0.value) }
                    .filter { $0.name != "connection" && $0.name != "upgrade-insecure-requests" })),
        Benign(
            name: "HTTP/2 POST JSON without content-length",
            request: WAFFixtures.request(
                "/api/users", method: "POST", version: .http2,
                headers: [
                    ("host", "www.example.com"), ("user-agent", WAFFixtures.chromeUserAgent),
                    ("accept", "application/json"),
                    ("content-type", "application/json"),
                ],
                body: Array(jsonDocument.utf8))),
        Benign(
            name: "curl GET / with Host: localhost, X-Request-ID, traceparent",
            request: WAFFixtures.request("/", headers: WAFFixtures.curlHeaders())),
        Benign(
            name: "curl GET with Host: localhost:8080",
            request: WAFFixtures.request(
                "/api/items?limit=10", headers: WAFFixtures.curlHeaders(host: "localhost:8080"))),
        Benign(
            name: "curl HEAD /healthz",
            request: WAFFixtures.request("/healthz", method: "HEAD", headers: WAFFixtures.curlHeaders())),
        Benign(
            name: "curl POST JSON",
            request: WAFFixtures.post(
                "/api/items", contentType: "application/json", body: #"{"name":"widget","count":3}"#,
                headers: WAFFixtures.curlHeaders())),
        Benign(
            name: "OPTIONS preflight",
            request: WAFFixtures.request(
                "/api/items", method: "OPTIONS",
                headers: [
                    ("Host", "api.example.com"), ("User-Agent", WAFFixtures.firefoxUserAgent), ("Accept", "*/*"),
                    ("Origin", "https://www.example.com"), ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "content-type,x-request-id"),
                ])),
    ]

    @Test("not blocked, no rule matched", arguments: cases)
    func passes(_ benign: Benign) throws {
        let verdict = try WAFFixtures.blockingPL1.get().inspect(benign.request)
        #expect(!verdict.blocked)
        #expect(verdict.status == nil)
        #expect(verdict.matchedRuleIDs.isEmpty, "\(verdict.matchedRuleIDs): \(verdict.messages)")
        #expect(verdict.anomalyScore == 0)
    }

    /// Meridian's tests that use a port on 127.0.0.1 send `Host: 127.0.0.1:PORT`. CRS 920350
    /// ("Host header is a numeric IP address", a warning worth 3) scores it: below the threshold
    /// of 5 alone, but it adds to whatever else a request scores.
    @Test("Host: 127.0.0.1:PORT scores 3 (920350) and is not blocked")
    func numericHost() throws {
        let verdict = try WAFFixtures.blockingPL1.get().inspect(
            WAFFixtures.request("/", headers: WAFFixtures.curlHeaders(host: "127.0.0.1:49152")))
        #expect(!verdict.blocked)
        #expect(verdict.matchedRuleIDs == [920350])
        #expect(verdict.anomalyScore == 3)
    }

    /// An HTTP/2 request whose `:authority` was not passed as `host` looks Host-less to the CRS.
    @Test("HTTP/2 without a host header scores 920280 and is not blocked")
    func http2WithoutHost() throws {
        let verdict = try WAFFixtures.blockingPL1.get().inspect(
            WAFFixtures.request(
                "/", version: .http2, headers: [("user-agent", WAFFixtures.firefoxUserAgent), ("accept", "*/*")]))
        #expect(!verdict.blocked)
        #expect(verdict.matchedRuleIDs.contains(920280))
        #expect(verdict.anomalyScore < 5)
    }
}
