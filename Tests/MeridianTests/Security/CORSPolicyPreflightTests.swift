import MeridianSecurity
import MeridianConfig
import NIOHTTP1
import Testing

@Suite("CORSPolicy.evaluate: preflights")
struct CORSPolicyPreflightTests {
    // MARK: Preflight allowed

    @Test func preflightAllowedHasTheFullHeaderSet() throws {
        let p = try CORS.policy(allowHeaders: ["Content-Type", "X-Request-ID"], credentials: true)
        let decision = CORS.preflight(p, method: "POST", requestHeaders: "content-type,x-request-id")
        guard case .preflight(let h) = decision else {
            Issue.record("expected .preflight, got \(decision)")
            return
        }
        #expect(
            lines(h) == [
                "Access-Control-Allow-Origin: https://app.example.com",
                "Access-Control-Allow-Credentials: true",
                "Access-Control-Allow-Methods: GET, HEAD, POST",
                "Access-Control-Allow-Headers: Content-Type, X-Request-ID",
                "Access-Control-Max-Age: 600",
                "Vary: \(CORS.preflightVary)",
            ]
        )
    }

    @Test func preflightWithoutCredentialsOrHeaders() throws {
        let p = try CORS.policy(methods: ["GET", "PUT", "DELETE"])
        let decision = CORS.preflight(p, method: "DELETE")
        #expect(
            decision
                == .preflight(
                    headers(
                        ("Access-Control-Allow-Origin", "https://app.example.com"),
                        ("Access-Control-Allow-Methods", "GET, PUT, DELETE"),
                        ("Access-Control-Max-Age", "600"),
                        ("Vary", CORS.preflightVary)
                    )
                )
        )
    }

    @Test func maxAgeNilOmitsTheHeaderAndZeroIsSent() throws {
        guard case .preflight(let none) = CORS.preflight(try CORS.policy(maxAge: nil)) else {
            Issue.record("expected .preflight")
            return
        }
        #expect(!none.contains(name: "Access-Control-Max-Age"))
        guard case .preflight(let zero) = CORS.preflight(try CORS.policy(maxAge: 0)) else {
            Issue.record("expected .preflight")
            return
        }
        #expect(zero.first(name: "Access-Control-Max-Age") == "0")
    }

    @Test func requestedHeaderNamesAreComparedCaseInsensitively() throws {
        let upper = try CORS.policy(allowHeaders: ["X-Request-ID"])
        #expect(CORS.rejection(CORS.preflight(upper, requestHeaders: "x-request-id")) == nil)
        let lower = try CORS.policy(allowHeaders: ["x-request-id"])
        #expect(CORS.rejection(CORS.preflight(lower, requestHeaders: "X-REQUEST-ID")) == nil)
    }

    @Test func requestHeadersListToleratesWhitespaceAndEmptyElements() throws {
        let p = try CORS.policy(allowHeaders: ["x-a", "x-b", "x-c"])
        #expect(CORS.rejection(CORS.preflight(p, requestHeaders: " x-a ,\tx-b,, x-c ,")) == nil)
        #expect(CORS.rejection(CORS.preflight(p, requestHeaders: "")) == nil)
    }

    @Test func requestHeadersOnSeveralLinesAreAllChecked() throws {
        let p = try CORS.policy(allowHeaders: ["x-a", "x-b"])
        var h = headers(("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "GET"))
        h.add(name: "Access-Control-Request-Headers", value: "x-a")
        h.add(name: "access-control-request-headers", value: "x-b")
        guard case .preflight = p.evaluate(method: .OPTIONS, headers: h) else {
            Issue.record("expected .preflight")
            return
        }
        h.add(name: "Access-Control-Request-Headers", value: "x-c")
        #expect(CORS.rejection(p.evaluate(method: .OPTIONS, headers: h))?.reason.contains("x-c") == true)
    }

    @Test func explicitAllowHeadersAreAnsweredAsConfiguredEvenWhenNoneRequested() throws {
        let p = try CORS.policy(allowHeaders: ["X-A", "X-B"])
        guard case .preflight(let h) = CORS.preflight(p) else {
            Issue.record("expected .preflight")
            return
        }
        #expect(h.first(name: "Access-Control-Allow-Headers") == "X-A, X-B")
    }

    @Test func starAllowHeadersReflectsTheRequestedList() throws {
        let p = try CORS.policy(allowHeaders: ["*"], credentials: true)
        guard case .preflight(let h) = CORS.preflight(p, requestHeaders: "authorization, x-anything,content-type")
        else {
            Issue.record("expected .preflight")
            return
        }
        #expect(h["Access-Control-Allow-Headers"] == ["authorization, x-anything, content-type"])
    }

    @Test func starAllowHeadersWithNothingRequestedSendsNoAllowHeaders() throws {
        let p = try CORS.policy(allowHeaders: ["*"])
        guard case .preflight(let h) = CORS.preflight(p) else {
            Issue.record("expected .preflight")
            return
        }
        #expect(!h.contains(name: "Access-Control-Allow-Headers"))
    }

    @Test func noAllowHeadersConfiguredAndNoneRequested() throws {
        guard case .preflight(let h) = CORS.preflight(try CORS.policy()) else {
            Issue.record("expected .preflight")
            return
        }
        #expect(!h.contains(name: "Access-Control-Allow-Headers"))
    }

    @Test func configuredMethodsUseTheFetchNormalisation() throws {
        let p = try CORS.policy(methods: ["get", "Post", "PATCH"])
        guard case .preflight(let h) = CORS.preflight(p, method: "POST") else {
            Issue.record("expected .preflight")
            return
        }
        #expect(h.first(name: "Access-Control-Allow-Methods") == "GET, POST, PATCH")
    }

    // MARK: Private network access

    @Test func privateNetworkAccessIsAnsweredWhenAllowed() throws {
        let p = try CORS.policy(allowPrivateNetwork: true)
        var h = headers(("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "GET"))
        h.add(name: "Access-Control-Request-Private-Network", value: "true")
        guard case .preflight(let out) = p.evaluate(method: .OPTIONS, headers: h) else {
            Issue.record("expected .preflight")
            return
        }
        #expect(out.first(name: "Access-Control-Allow-Private-Network") == "true")
    }

    @Test func privateNetworkAccessIsNotAnsweredWhenNotAllowedOrNotAsked() throws {
        var h = headers(("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "GET"))
        h.add(name: "Access-Control-Request-Private-Network", value: "true")
        guard case .preflight(let notAllowed) = try CORS.policy().evaluate(method: .OPTIONS, headers: h) else {
            Issue.record("expected .preflight")
            return
        }
        #expect(!notAllowed.contains(name: "Access-Control-Allow-Private-Network"))
        guard case .preflight(let notAsked) = CORS.preflight(try CORS.policy(allowPrivateNetwork: true)) else {
            Issue.record("expected .preflight")
            return
        }
        #expect(!notAsked.contains(name: "Access-Control-Allow-Private-Network"))
    }

    // MARK: Preflight rejected

    @Test func preflightFromDisallowedOriginIsRejected() throws {
        let r = CORS.rejection(CORS.preflight(try CORS.policy(), origin: "https://evil.example.net"))
        #expect(r?.headers == ["Vary: \(CORS.preflightVary)"])
        #expect(r?.reason.contains("https://evil.example.net") == true)
        #expect(r?.reason.contains("origin") == true)
    }

    @Test func preflightForDisallowedMethodIsRejected() throws {
        let r = CORS.rejection(CORS.preflight(try CORS.policy(), method: "DELETE"))
        #expect(r?.headers == ["Vary: \(CORS.preflightVary)"])
        #expect(r?.reason.contains("DELETE") == true)
        #expect(r?.reason.contains("GET, HEAD, POST") == true)
    }

    @Test func preflightMethodIsComparedCaseSensitively() throws {
        let p = try CORS.policy(methods: ["PATCH"])
        #expect(CORS.rejection(CORS.preflight(p, method: "patch"))?.reason.contains("patch") == true)
        #expect(CORS.rejection(CORS.preflight(p, method: "PATCH")) == nil)
    }

    @Test func safelistedMethodMustStillBeConfigured() throws {
        let p = try CORS.policy(methods: ["PUT"])
        #expect(CORS.rejection(CORS.preflight(p, method: "GET")) != nil)
    }

    @Test func preflightForDisallowedHeaderIsRejected() throws {
        let p = try CORS.policy(allowHeaders: ["Content-Type"])
        let r = CORS.rejection(CORS.preflight(p, requestHeaders: "content-type, x-secret"))
        #expect(r?.headers == ["Vary: \(CORS.preflightVary)"])
        #expect(r?.reason.contains("x-secret") == true)
    }

    @Test func anyRequestedHeaderIsRejectedWhenNoneAreConfigured() throws {
        #expect(CORS.rejection(CORS.preflight(try CORS.policy(), requestHeaders: "content-type")) != nil)
    }

    @Test func malformedRequestHeadersAreRejected() throws {
        let star = try CORS.policy(allowHeaders: ["*"])
        #expect(
            CORS.rejection(CORS.preflight(star, requestHeaders: "x a"))?.reason.contains(
                "Access-Control-Request-Headers") == true
        )
        #expect(CORS.rejection(CORS.preflight(star, requestHeaders: "x-a, x:b")) != nil)
    }

    @Test func malformedRequestMethodIsRejected() throws {
        let p = try CORS.policy()
        #expect(CORS.rejection(CORS.preflight(p, method: "")) != nil)
        #expect(CORS.rejection(CORS.preflight(p, method: "G ET")) != nil)
    }

    @Test func rejectionReasonDoesNotCarryControlCharacters() throws {
        let r = CORS.rejection(CORS.preflight(try CORS.policy(), origin: "https://evil.example\r\nX-Injected: 1"))
        #expect(r != nil)
        #expect(r?.reason.contains("\r") == false)
        #expect(r?.reason.contains("\n") == false)
    }

    @Test func longRejectedValuesAreTruncatedInTheReason() throws {
        let long = "https://" + String(repeating: "a", count: 500) + ".example"
        let reason = CORS.rejection(CORS.preflight(try CORS.policy(), origin: long))?.reason ?? ""
        #expect(reason.contains("…"))
        #expect(reason.count < 300)
    }

    @Test func unrelatedHeadersOfTheSameLengthAreIgnored() throws {
        let p = try CORS.policy(allowPrivateNetwork: true)
        // "cookie" has as many letters as "origin"; the others match the CORS request header lengths.
        var h = headers(("Cookie", "a=b"), ("X-Custom-Header-Of-Length-29x", "1"))
        #expect(p.evaluate(method: .OPTIONS, headers: h) == .notCORS)
        h.add(name: "Origin", value: "https://app.example.com")
        h.add(name: "Access-Control-Request-Method", value: "GET")
        h.add(name: "Access-Control-Request-Private-Network", value: " TRUE ")
        guard case .preflight(let out) = p.evaluate(method: .OPTIONS, headers: h) else {
            Issue.record("expected .preflight")
            return
        }
        #expect(out.first(name: "Access-Control-Allow-Private-Network") == "true")
    }

    @Test func preflightFromAWildcardOriginWithADefaultPort() throws {
        let p = try CORS.policy(origins: ["https://*.example.com"])
        guard case .preflight(let h) = CORS.preflight(p, origin: "https://a.example.com:443") else {
            Issue.record("expected .preflight")
            return
        }
        #expect(h.first(name: "Access-Control-Allow-Origin") == "https://a.example.com:443")
    }
}
