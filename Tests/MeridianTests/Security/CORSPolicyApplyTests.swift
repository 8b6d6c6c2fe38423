import MeridianSecurity
import MeridianConfig
import NIOHTTP1
import Testing

@Suite("CORSPolicy.apply")
struct CORSPolicyApplyTests {
    let policy: CORSPolicy

    init() throws {
        policy = try CORSPolicy(CORSPolicy.Configuration(origins: ["https://app.example.com"], credentials: true))
    }

    private var allowed: HTTPHeaders {
        headers(
            ("Access-Control-Allow-Origin", "https://app.example.com"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin")
        )
    }

    @Test func addsHeadersToAResponseWithoutAny() {
        var response = headers(("Content-Type", "text/plain"))
        policy.apply(allowed, to: &response)
        #expect(
            lines(response) == [
                "Content-Type: text/plain",
                "Access-Control-Allow-Origin: https://app.example.com",
                "Access-Control-Allow-Credentials: true",
                "Vary: Origin",
            ]
        )
    }

    @Test func replacesTheUpstreamsAccessControlHeaders() {
        var response = headers(
            ("access-control-allow-origin", "*"),
            ("Access-Control-Allow-Origin", "https://other.example"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Content-Length", "2")
        )
        policy.apply(allowed, to: &response)
        #expect(response["Access-Control-Allow-Origin"] == ["https://app.example.com"])
        #expect(response["Access-Control-Allow-Credentials"] == ["true"])
        #expect(response.first(name: "Content-Length") == "2")
    }

    @Test func upstreamsStarCannotWidenADisallowedDecision() {
        var response = headers(
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Expose-Headers", "X-Secret"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Content-Type", "application/json")
        )
        policy.apply(headers(("Vary", "Origin")), to: &response)
        #expect(lines(response) == ["Content-Type: application/json", "Vary: Origin"])
    }

    @Test func appendsToAnExistingVary() {
        var response = headers(("Vary", "Accept-Encoding"))
        policy.apply(allowed, to: &response)
        #expect(response["Vary"] == ["Accept-Encoding, Origin"])
    }

    @Test func doesNotDuplicateAVaryTokenCaseInsensitively() {
        var response = headers(("vary", "accept-encoding, ORIGIN"))
        policy.apply(allowed, to: &response)
        #expect(response["Vary"] == ["accept-encoding, ORIGIN"])
    }

    @Test func mergesSeveralVaryLinesIntoOneWithoutDuplicates() {
        var response = headers(("Vary", "Accept-Encoding"), ("Vary", "Accept-Language, accept-encoding"))
        policy.apply(headers(("Vary", "Origin, Access-Control-Request-Method")), to: &response)
        #expect(response["Vary"] == ["Accept-Encoding, Accept-Language, Origin, Access-Control-Request-Method"])
    }

    @Test func addsOnlyTheMissingPreflightVaryTokens() {
        var response = headers(("Vary", "Origin"))
        policy.apply(
            headers(("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")),
            to: &response
        )
        #expect(
            response["Vary"] == ["Origin, Access-Control-Request-Method, Access-Control-Request-Headers"]
        )
    }

    @Test func leavesVaryStarAlone() {
        var response = headers(("Vary", "*"))
        policy.apply(allowed, to: &response)
        #expect(response["Vary"] == ["*"])
        var listed = headers(("Vary", "Accept-Encoding, *"))
        policy.apply(allowed, to: &listed)
        #expect(listed["Vary"] == ["Accept-Encoding, *"])
    }

    @Test func applyingTwiceNeverProducesOriginTwice() {
        var response = HTTPHeaders()
        policy.apply(allowed, to: &response)
        policy.apply(allowed, to: &response)
        #expect(response["Vary"] == ["Origin"])
        #expect(response["Access-Control-Allow-Origin"].count == 1)
    }

    @Test func evaluateThenApplyEndToEnd() {
        let decision = policy.evaluate(method: .GET, headers: headers(("Origin", "https://app.example.com")))
        guard case .actual(let add) = decision else {
            Issue.record("expected .actual, got \(decision)")
            return
        }
        var response = headers(("Vary", "Accept-Encoding"), ("Access-Control-Allow-Origin", "*"))
        policy.apply(add, to: &response)
        #expect(
            lines(response) == [
                "Access-Control-Allow-Origin: https://app.example.com",
                "Access-Control-Allow-Credentials: true",
                "Vary: Accept-Encoding, Origin",
            ]
        )
    }

    @Test func otherDecisionHeadersReplaceTheResponses() {
        var response = headers(("X-Policy", "upstream"), ("Content-Type", "text/plain"))
        policy.apply(headers(("x-policy", "gateway")), to: &response)
        #expect(response["X-Policy"] == ["gateway"])
        #expect(response.first(name: "Content-Type") == "text/plain")
    }
}
