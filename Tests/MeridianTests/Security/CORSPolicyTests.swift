import MeridianSecurity
import MeridianConfig
import NIOHTTP1
import Testing

@Suite("CORSPolicy.evaluate: actual requests")
struct CORSPolicyTests {
    // MARK: Not CORS

    @Test func requestWithoutOriginIsNotCORS() throws {
        let p = try CORS.policy()
        #expect(p.evaluate(method: .GET, headers: headers(("Host", "api.example.com"))) == .notCORS)
        #expect(p.evaluate(method: .GET, headers: HTTPHeaders()) == .notCORS)
    }

    @Test func optionsWithoutOriginIsNotCORSEvenWithRequestMethod() throws {
        let p = try CORS.policy()
        let h = headers(("Access-Control-Request-Method", "GET"))
        #expect(p.evaluate(method: .OPTIONS, headers: h) == .notCORS)
    }

    // MARK: Actual requests

    @Test func allowedActualRequestEchoesOriginAndVaries() throws {
        let p = try CORS.policy()
        let decision = p.evaluate(method: .GET, headers: headers(("Origin", "https://app.example.com")))
        guard case .actual(let h) = decision else {
            Issue.record("expected .actual, got \(decision)")
            return
        }
        #expect(lines(h) == ["Access-Control-Allow-Origin: https://app.example.com", "Vary: Origin"])
    }

    @Test func allowedActualRequestWithCredentialsAndExposeHeaders() throws {
        let p = try CORS.policy(exposeHeaders: ["X-Request-ID", "ETag"], credentials: true)
        let decision = p.evaluate(method: .POST, headers: headers(("origin", "https://app.example.com")))
        guard case .actual(let h) = decision else {
            Issue.record("expected .actual, got \(decision)")
            return
        }
        #expect(
            lines(h) == [
                "Access-Control-Allow-Origin: https://app.example.com",
                "Access-Control-Allow-Credentials: true",
                "Access-Control-Expose-Headers: X-Request-ID, ETag",
                "Vary: Origin",
            ]
        )
    }

    @Test func originIsEchoedVerbatimBecauseBrowsersCompareBytes() throws {
        let p = try CORS.policy()
        let decision = p.evaluate(method: .GET, headers: headers(("ORIGIN", "HTTPS://App.Example.com:443")))
        #expect(
            decision
                == .actual(
                    headers(("Access-Control-Allow-Origin", "HTTPS://App.Example.com:443"), ("Vary", "Origin"))
                )
        )
    }

    @Test func disallowedActualRequestOnlyVaries() throws {
        let p = try CORS.policy()
        let decision = p.evaluate(method: .GET, headers: headers(("Origin", "https://evil.example.net")))
        #expect(decision == .actualDisallowed(headers(("Vary", "Origin"))))
    }

    @Test func actualRequestMethodIsNotCheckedOnlyTheOrigin() throws {
        let p = try CORS.policy(methods: ["GET"])
        let decision = p.evaluate(method: .DELETE, headers: headers(("Origin", "https://app.example.com")))
        guard case .actual = decision else {
            Issue.record("expected .actual, got \(decision)")
            return
        }
    }

    @Test func optionsWithOriginButNoRequestMethodIsAnActualRequest() throws {
        let p = try CORS.policy()
        let decision = p.evaluate(method: .OPTIONS, headers: headers(("Origin", "https://app.example.com")))
        guard case .actual = decision else {
            Issue.record("expected .actual, got \(decision)")
            return
        }
    }

    @Test func emptyOriginIsDisallowed() throws {
        let p = try CORS.policy(origins: ["*"])
        #expect(
            p.evaluate(method: .GET, headers: headers(("Origin", ""))) == .actualDisallowed(headers(("Vary", "Origin")))
        )
    }

    @Test func multipleOriginHeadersAreDisallowed() throws {
        let p = try CORS.policy()
        let h = headers(("Origin", "https://app.example.com"), ("Origin", "https://evil.example.net"))
        #expect(p.evaluate(method: .GET, headers: h) == .actualDisallowed(headers(("Vary", "Origin"))))
        var pre = h
        pre.add(name: "Access-Control-Request-Method", value: "GET")
        #expect(CORS.rejection(p.evaluate(method: .OPTIONS, headers: pre))?.reason.contains("Origin") == true)
    }

    @Test func defaultPortInRequestIsAllowed() throws {
        let p = try CORS.policy(origins: ["https://app.example.com:443"])
        let decision = p.evaluate(method: .GET, headers: headers(("Origin", "https://app.example.com")))
        #expect(
            decision
                == .actual(headers(("Access-Control-Allow-Origin", "https://app.example.com"), ("Vary", "Origin")))
        )
    }

    @Test func wildcardSubdomainIsAllowedAndEchoed() throws {
        let p = try CORS.policy(origins: ["https://*.example.com"])
        let ok = p.evaluate(method: .GET, headers: headers(("Origin", "https://a.b.example.com")))
        #expect(ok == .actual(headers(("Access-Control-Allow-Origin", "https://a.b.example.com"), ("Vary", "Origin"))))
        let bad = p.evaluate(method: .GET, headers: headers(("Origin", "https://example.com.evil.net")))
        #expect(bad == .actualDisallowed(headers(("Vary", "Origin"))))
        let apex = p.evaluate(method: .GET, headers: headers(("Origin", "https://example.com")))
        #expect(apex == .actualDisallowed(headers(("Vary", "Origin"))))
    }

    @Test func severalOriginsAreEachAllowed() throws {
        let p = try CORS.policy(origins: ["https://a.example", "http://localhost:3000", "https://*.b.example"])
        for origin in ["https://a.example", "http://localhost:3000", "https://x.b.example"] {
            let decision = p.evaluate(method: .GET, headers: headers(("Origin", origin)))
            #expect(decision == .actual(headers(("Access-Control-Allow-Origin", origin), ("Vary", "Origin"))))
        }
        let other = p.evaluate(method: .GET, headers: headers(("Origin", "http://localhost:3001")))
        #expect(other == .actualDisallowed(headers(("Vary", "Origin"))))
    }

    // MARK: Any origin

    @Test func anyOriginAnswersLiteralStarWithoutVary() throws {
        let p = try CORS.policy(origins: ["*"], exposeHeaders: ["X-Total"])
        let decision = p.evaluate(method: .GET, headers: headers(("Origin", "https://whoever.example")))
        guard case .actual(let h) = decision else {
            Issue.record("expected .actual, got \(decision)")
            return
        }
        #expect(lines(h) == ["Access-Control-Allow-Origin: *", "Access-Control-Expose-Headers: X-Total"])
    }

    @Test func anyOriginPreflightAnswersStar() throws {
        let p = try CORS.policy(origins: ["*"])
        guard case .preflight(let h) = CORS.preflight(p, origin: "https://whoever.example") else {
            Issue.record("expected .preflight")
            return
        }
        #expect(h.first(name: "Access-Control-Allow-Origin") == "*")
        #expect(h.first(name: "Vary") == CORS.preflightVary)
    }

    @Test func anyOriginDoesNotAllowNull() throws {
        let p = try CORS.policy(origins: ["*"])
        #expect(
            p.evaluate(method: .GET, headers: headers(("Origin", "null")))
                == .actualDisallowed(headers(("Vary", "Origin"))))
        #expect(CORS.rejection(CORS.preflight(p, origin: "null"))?.reason.contains("null") == true)
    }

    // MARK: null

    @Test func nullOriginIsAllowedWhenListed() throws {
        let p = try CORS.policy(origins: ["null"], credentials: true)
        let decision = p.evaluate(method: .GET, headers: headers(("Origin", "null")))
        #expect(
            decision
                == .actual(
                    headers(
                        ("Access-Control-Allow-Origin", "null"),
                        ("Access-Control-Allow-Credentials", "true"),
                        ("Vary", "Origin")
                    )
                )
        )
        guard case .preflight(let h) = CORS.preflight(p, origin: "null") else {
            Issue.record("expected .preflight")
            return
        }
        #expect(h.first(name: "Access-Control-Allow-Origin") == "null")
    }

    @Test func nullOriginIsDisallowedUnlessListed() throws {
        let p = try CORS.policy()
        #expect(
            p.evaluate(method: .GET, headers: headers(("Origin", "null")))
                == .actualDisallowed(headers(("Vary", "Origin"))))
    }
}
