import Foundation
import Testing

/// Forward auth against a real auth service (`Tests/tools/auth_service.py`) in front of a real upstream.
@Suite struct ForwardAuthTests {
    static func config(_ upstreams: [TestUpstream], auth: Int, extra: String = "") -> String {
        """
        upstreams:
          - name: api
            endpoints: [\(upstreams.map(\.address).joined(separator: ", "))]
        auth:
          sso:
            forward:
              url: http://127.0.0.1:\(auth)/verify
              request_headers: [Authorization]
              response_headers: [X-User, X-Tenant]
              \(extra)
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                proxy: api
                auth: sso
        """
    }

    static func serviceGet(_ port: Int, _ path: String) async throws -> String {
        try await RawClient.exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").text
    }

    @Test func theAuthServiceDecidesAndItsAnswersAreRemembered() async throws {
        let service = try await offThePool { try PortPrintingProcess(["python3", TestTools.path("auth_service.py")]) }
        defer { service.stop() }
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups, auth: service.port, extra: "cache_ttl: 1h")) { s in
                let ok = try await s.get("/orders?x=1", headers: ["Authorization": "Bearer good", "X-User": "root"])
                #expect(ok.status == 200)
                #expect(ok.text.contains("x-user: alice\n") && ok.text.contains("x-tenant: acme\n"), "\(ok.text)")
                #expect(!ok.text.contains("x-user: root") && !ok.text.contains("x-internal"), "only the chosen headers, never the client's copy")
                let last = try await Self.serviceGet(service.port, "/last")
                #expect(last.contains("\"x-forwarded-uri\": \"/orders?x=1\"") && last.contains("\"x-forwarded-method\": \"GET\""), "\(last)")
                #expect(last.contains("\"authorization\": \"Bearer good\""))
                let no = try await s.get("/orders", headers: ["Authorization": "Bearer bad"])
                #expect(no.status == 401 && no.header("www-authenticate") == "Bearer realm=\"sso\"" && no.text == "sso says no\n")
                let login = try await s.get("/orders", headers: ["Authorization": "Bearer login"])
                #expect(login.status == 302 && login.header("location") == "https://sso.example/login", "redirects are the client's, not followed")
                #expect(ups[0].requests == 1)
                // Allowed and refused answers are remembered per credential; the redirect is asked again.
                let before = try await Self.serviceGet(service.port, "/count")
                _ = try await s.get("/orders", headers: ["Authorization": "Bearer good"])
                _ = try await s.get("/orders", headers: ["Authorization": "Bearer bad"])
                _ = try await s.get("/orders", headers: ["Authorization": "Bearer login"])
                let after = try await Self.serviceGet(service.port, "/count")
                #expect(Int(after) == Int(before)! + 1, "\(before) -> \(after)")
            }
        }
    }

    @Test func anUnreachableAuthServiceIs503() async throws {
        try await withUpstreams(1) { ups in
            // A port nothing listens on: the connection is refused.
            try await withTestServer(Self.config(ups, auth: 1, extra: "timeout: 500ms")) { s in
                let r = try await s.get("/", headers: ["Authorization": "Bearer good"])
                #expect(r.status == 503 && r.header("retry-after") == "1")
                #expect(ups[0].requests == 0)
                let m = try await AuthTests.metrics(s)
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"sso\",result=\"error\"} 1"), "\(m)")
            }
        }
    }
}
