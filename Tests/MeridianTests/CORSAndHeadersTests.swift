import Foundation
import Testing

/// CORS and security headers on a proxied route with authentication in front of a real upstream: preflights
/// answered here (the upstream never sees them), refusals that a browser can still read, headers on every answer.
@Suite struct CORSAndHeadersTests {
    static func config(_ upstreams: [TestUpstream], route: String) -> String {
        """
        upstreams:
          - name: api
            endpoints: [\(upstreams.map(\.address).joined(separator: ", "))]
        auth:
          keys:
            api_key: {keys: [{name: web, sha256: \(AuthTests.keyDigest)}]}
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                proxy: api
                \(route.split(separator: "\n").joined(separator: "\n        "))
        """
    }

    static let route = """
        auth: keys
        cors:
          origins: [https://app.example.com, "https://*.partner.example"]
          methods: [GET, POST, PUT]
          allow_headers: [X-API-Key, Content-Type]
          expose_headers: [X-Request-ID]
          credentials: true
          max_age: 10m
        security_headers: strict
        """

    @Test func aPreflightIsAnsweredHereAndNeverReachesTheUpstream() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups, route: Self.route)) { s in
                let preflight = try await s.get("/orders", headers: [
                    "Origin": "https://shop.partner.example", "Access-Control-Request-Method": "PUT",
                    "Access-Control-Request-Headers": "x-api-key, content-type",
                ], method: "OPTIONS")
                #expect(preflight.status == 204)
                #expect(preflight.header("access-control-allow-origin") == "https://shop.partner.example")
                #expect(preflight.header("access-control-allow-methods") == "GET, POST, PUT")
                #expect(preflight.header("access-control-allow-credentials") == "true")
                #expect(preflight.header("access-control-max-age") == "600")
                #expect(preflight.header("vary")?.contains("Origin") == true)
                let refused = try await s.get("/orders", headers: [
                    "Origin": "https://evil.example", "Access-Control-Request-Method": "PUT",
                ], method: "OPTIONS")
                #expect(refused.status == 403 && refused.header("access-control-allow-origin") == nil)
                let badMethod = try await s.get("/orders", headers: [
                    "Origin": "https://app.example.com", "Access-Control-Request-Method": "DELETE",
                ], method: "OPTIONS")
                #expect(badMethod.status == 403)
                #expect(ups[0].requests == 0, "no preflight reached the upstream")
            }
        }
    }

    @Test func answersCarryCORSAndSecurityHeadersEvenWhenAuthenticationRefuses() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups, route: Self.route)) { s in
                let unauthorized = try await s.get("/orders", headers: ["Origin": "https://app.example.com"])
                #expect(unauthorized.status == 401)
                #expect(unauthorized.header("access-control-allow-origin") == "https://app.example.com", "the page can read its 401")
                #expect(unauthorized.header("strict-transport-security") == "max-age=63072000; includeSubDomains")
                let ok = try await s.get("/orders", headers: ["Origin": "https://app.example.com", "X-API-Key": "k-live-123"])
                #expect(ok.status == 200)
                #expect(ok.header("access-control-allow-origin") == "https://app.example.com")
                #expect(ok.header("access-control-expose-headers") == "X-Request-ID")
                #expect(ok.header("x-content-type-options") == "nosniff")
                #expect(ok.header("x-frame-options") == "DENY")
                #expect(ok.header("content-security-policy") == "default-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
                #expect(ok.header("referrer-policy") == "no-referrer")
                let foreign = try await s.get("/orders", headers: ["Origin": "https://evil.example", "X-API-Key": "k-live-123"])
                #expect(foreign.status == 200 && foreign.header("access-control-allow-origin") == nil)
                #expect(foreign.header("vary")?.contains("Origin") == true, "a shared cache must not give one origin's answer to another")
            }
        }
    }

    @Test func corsAndHeaderMistakesAreConfigErrors() {
        func errors(_ route: String) -> [String] {
            configErrors(
                """
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /}
                        respond: {status: 200}
                        \(route)
                """
            )
        }
        let star = errors("cors: {origins: [\"*\"], credentials: true}")
        #expect(star.count == 1 && star[0].hasPrefix("test.yaml:6:15: hosts[0].routes[0].cors: "), "\(star)")
        let wildcard = errors("cors: {origins: [\"https://ex*.com\"]}")
        #expect(wildcard.count == 1 && wildcard[0].contains("origins[0]"), "\(wildcard)")
        #expect(errors("cors: {methods: [GET]}") == [
            "test.yaml:6:15: hosts[0].routes[0].cors.origins: missing; list the origins allowed, like [https://app.example.com, \"https://*.example.com\"] (or \"*\")"
        ])
        let hsts = errors("security_headers: {preset: basic, hsts: \"includeSubDomains\"}")
        #expect(hsts.count == 1 && hsts[0].contains("max-age"), "\(hsts)")
        #expect(errors("security_headers: paranoid") == [
            "test.yaml:6:27: hosts[0].routes[0].security_headers: 'paranoid' is not allowed; expected one of: basic, strict"
        ])
    }
}
