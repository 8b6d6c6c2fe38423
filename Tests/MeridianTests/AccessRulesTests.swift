import Foundation
import MeridianConfig
import MeridianSecurity
import Testing

/// `access:` rules on listeners and routes, decided on the client address after the trusted-proxies rule.
@Suite struct AccessRulesTests {
    func rules(allow: [String] = [], deny: [String] = []) -> Configuration.AccessRules {
        Configuration.AccessRules(allow: allow.compactMap { IPNetwork(parsing: $0) }, deny: deny.compactMap { IPNetwork(parsing: $0) })
    }

    func address(_ text: String) -> [UInt8]? { IPNetwork.parseAddress(Substring(text)) }

    @Test func denyWinsAndAnAllowListAdmitsOnlyItsNetworks() {
        let r = rules(allow: ["10.0.0.0/8", "2001:db8::/32"], deny: ["10.6.6.0/24"])
        #expect(r.permits(address("10.1.2.3")))
        #expect(!r.permits(address("10.6.6.7")))
        #expect(!r.permits(address("192.0.2.1")))
        #expect(r.permits(address("2001:db8::1")))
        #expect(!r.permits(address("2001:db9::1")))
        #expect(r.permits(address("::ffff:10.1.2.3")), "an IPv4-mapped IPv6 peer is checked as IPv4")
        #expect(!r.permits(nil), "an address that cannot be read is refused")
        let denyOnly = rules(deny: ["192.0.2.0/24"])
        #expect(denyOnly.permits(address("198.51.100.1")) && !denyOnly.permits(address("192.0.2.9")))
    }

    static func yaml(listener: String = "", route: String = "", trusted: String = "") -> String {
        """
        server: {trusted_proxies: [\(trusted)]}
        listeners:
          - name: main
            address: 127.0.0.1:0
            \(listener)
        hosts:
          - default: true
            routes:
              - match: {prefix: /admin}
                respond: {status: 200, body: admin}
                \(route)
              - match: {prefix: /}
                respond: {status: 200, body: open}
        """
    }

    @Test func listenerAndRouteRulesAnswer403BeforeTheAction() async throws {
        try await withTestServer(Self.yaml(route: "access: {deny: [127.0.0.0/8]}")) { s in
            let refused = try await s.get("/admin")
            #expect(refused.status == 403 && refused.text == "forbidden\n")
            #expect(try await s.get("/").text == "open")
            let m = try await RawClient.exchange(port: s.adminPort!, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").text
            #expect(m.contains("meridian_access_denied_total{route=\"/admin\",scope=\"route\"} 1"), "\(m)")
        }
        try await withTestServer(Self.yaml(listener: "access: {allow: [10.0.0.0/8]}")) { s in
            let r = try await s.get("/")
            #expect(r.status == 403, "the listener's rules cover every route")
        }
    }

    @Test func behindATrustedProxyTheForwardedClientIsJudged() async throws {
        let yaml = Self.yaml(route: "access: {allow: [192.0.2.0/24]}", trusted: "127.0.0.1")
        try await withTestServer(yaml) { s in
            #expect(try await s.get("/admin", headers: ["X-Forwarded-For": "192.0.2.44"]).status == 200)
            // The rightmost untrusted hop counts: a client cannot prepend an allowed address.
            #expect(try await s.get("/admin", headers: ["X-Forwarded-For": "192.0.2.44, 203.0.113.9"]).status == 403)
            #expect(try await s.get("/admin", headers: ["X-Forwarded-For": "not-an-address"]).status == 403)
            let direct = try await s.get("/admin")
            #expect(direct.status == 403, "the proxy itself is not in the allow list")
        }
        try await withTestServer(Self.yaml(route: "access: {allow: [192.0.2.0/24]}")) { s in
            let r = try await s.get("/admin", headers: ["X-Forwarded-For": "192.0.2.44"])
            #expect(r.status == 403, "untrusted peers' headers are ignored")
        }
    }

    @Test func badNetworksAreConfigErrors() {
        #expect(configErrors(Self.yaml(route: "access: {allow: [10.0.0.0/33, example.com]}")) == [
            "test.yaml:11:25: hosts[0].routes[0].access.allow[0]: '10.0.0.0/33' is not an address or network; expected 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32",
            "test.yaml:11:25: hosts[0].routes[0].access.allow[1]: 'example.com' is not an address or network; expected 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32",
        ])
        #expect(configErrors(Self.yaml(listener: "access: {}")).first?.contains("lists no address") == true)
    }
}
