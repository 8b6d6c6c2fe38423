import Foundation
import MeridianConfig
import Testing

/// The `upstreams:` section, the `proxy` action and `query` conditions: what they decode to, and an
/// error with file:line and what to change for each mistake; `meridian proxy` from the command line.
@Suite struct ProxyConfigTests {
    func errors(_ yaml: String) -> [String] { configErrors(yaml) }

    @Test func aFullUpstreamDecodes() throws {
        let c = try ConfigLoader.parse(
            yaml: """
                server: {trusted_proxies: [10.0.0.0/8, "fd00::/8"]}
                upstreams:
                  - name: api
                    endpoints: [10.0.0.1:8080, {address: api.internal:9000, weight: 3}]
                    balancing: {policy: ring_hash, hash_on: {cookie: session}}
                    pool: {max_idle: 8, idle_timeout: 30s, max_requests_per_connection: 100, max_connections: 50}
                    timeouts: {connect: 1s, first_byte: 10s, idle: 20s, total: 60s}
                    retries: {max: 1, on: [connect_failure, 5xx], per_try_timeout: 2s, budget_percent: 10, min_concurrency: 1, replay_buffer: 8k}
                    circuit_breaker: {failure_ratio: 0.25, minimum_requests: 10, window: 5s, open_for: 2s, max_open_for: 30s, max_probes: 2}
                    outlier_detection: {consecutive_5xx: 3, base_ejection: 10s, max_ejection_percent: 50}
                    health_check: {path: /healthz, interval: 2s, timeout: 500ms, expected_statuses: [200, 204-299], healthy_threshold: 1}
                    max_active: 100
                    max_pending: 10
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /v2/, query: {tenant: acme, debug: ~, id: {regex: "^[0-9]+$"}}}
                        proxy: {upstream: api, strip_prefix: /v2, host: upstream, request_headers: {set: {X-A: b}}, max_body_bytes: 1MiB}
                """, source: "t.yaml")
        let u = try #require(c.upstreams.first)
        #expect(u.endpoints.map { "\($0.host):\($0.port)/\($0.weight)" } == ["10.0.0.1:8080/1", "api.internal:9000/3"])
        #expect(u.balancing == .init(policy: "ring_hash", hashOn: .cookie("session")))
        #expect(u.pool == .init(maxIdle: 8, idleTimeout: .seconds(30), maxRequestsPerConnection: 100, maxConnections: 50))
        #expect(u.timeouts.total == .seconds(60))
        #expect(u.retries.on == ["connect_failure", "5xx"] && u.retries.replayBuffer == 8192)
        #expect(u.circuitBreaker.failureRatio == 0.25 && u.circuitBreaker.maxProbes == 2)
        #expect(u.healthCheck?.expectedStatuses == [200...200, 204...299])
        #expect(c.server.trustedProxies == ["10.0.0.0/8", "fd00::/8"])
        let route = try #require(c.hosts.first?.routes.first)
        #expect(route.match.query.count == 3)
        guard case .proxy(let p) = route.action else { Issue.record("not a proxy action"); return }
        #expect(p.upstream == "api" && p.stripPrefix == "/v2" && p.host == .upstream && p.maxBodyBytes == 1 << 20)
    }

    @Test func mistakesAreReportedWithTheirLine() {
        let e = errors("""
            upstreams:
              - name: api
                endpoints: [nohost, "10.0.0.1:0"]
                balancing: round_robbin
                retries: {on: [sometimes]}
                circuit_breaker: {failure_ratio: 2}
                health_check: {interval: 1s, timeout: 2s}
              - name: api
                endpoints: [10.0.0.2:80]
            hosts:
              - default: true
                routes:
                  - match: {prefix: /}
                    proxy: apii
            """)
        let text = e.joined(separator: "\n")
        #expect(text.contains("test.yaml:3:"), "\(text)")
        #expect(text.contains("'nohost' is not an endpoint"))
        #expect(text.contains("'10.0.0.1:0' is not an endpoint"))
        #expect(text.contains("test.yaml:4:") && text.contains("did you mean 'round_robin'"))
        #expect(text.contains("'sometimes' is not a retry condition"))
        #expect(text.contains("'2' is not a ratio"))
        #expect(text.contains("is not shorter than the interval"))
        #expect(text.contains("'api' is used twice"))
        #expect(text.contains("test.yaml:14:") && text.contains("'apii' is not an upstream; defined: api"))
    }

    @Test func aProxyWithoutUpstreamsSaysSo() {
        let e = errors("hosts: [{default: true, routes: [{match: {prefix: /}, proxy: api}]}]").joined()
        #expect(e.contains("no upstreams are defined"))
    }

    @Test func hashOnOnlyForHashingPolicies() {
        let e = errors("upstreams: [{name: a, endpoints: [1.2.3.4:80], balancing: {policy: round_robin, hash_on: client_ip}}]").joined()
        #expect(e.contains("only ring_hash and maglev hash"))
    }

    @Test func trustedProxiesMustBeNetworks() {
        let e = errors("server: {trusted_proxies: [10.0.0.0/33, banana]}").joined(separator: "\n")
        #expect(e.contains("'10.0.0.0/33' is not an address or CIDR"))
        #expect(e.contains("'banana' is not an address or CIDR"))
    }

    @Test func ipNetworksMatchAddresses() throws {
        let v4 = try #require(IPNetwork(parsing: "10.1.0.0/16"))
        #expect(v4.contains([10, 1, 200, 3]))
        #expect(!v4.contains([10, 2, 0, 1]))
        let mapped: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 1, 0, 9]
        #expect(v4.contains(mapped), "an IPv4-mapped IPv6 peer is checked as IPv4")
        let v6 = try #require(IPNetwork(parsing: "fd00::/8"))
        #expect(v6.contains(try #require(IPNetwork.parseAddress("fd12:3456::1"))))
        #expect(!v6.contains(try #require(IPNetwork.parseAddress("fe80::1"))))
        #expect(IPNetwork.parseAddress("::ffff:1.2.3.4") == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4])
        #expect(IPNetwork(parsing: "1.2.3") == nil && IPNetwork(parsing: "::1::2") == nil)
    }

    @Test func quickProxyBuildsAOneRouteProxy() throws {
        let c = try QuickProxy.configuration(from: ":8080", to: ["http://127.0.0.1:9000", "10.0.0.2:9001/"])
        #expect(c.listeners.first?.address.description == "0.0.0.0:8080")
        #expect(c.upstreams.first?.endpoints.map(\.port) == [9000, 9001])
        #expect(throws: QuickProxy.Failure.self) { try QuickProxy.configuration(from: "nowhere", to: ["http://a:1"]) }
        let secure = try QuickProxy.configuration(from: ":1", to: ["https://api.internal"])
        #expect(secure.upstreams.first?.tls != nil && secure.upstreams.first?.endpoints.first?.port == 443)
        #expect(throws: QuickProxy.Failure.self) { try QuickProxy.configuration(from: ":1", to: ["https://a:1", "http://b:1"]) }
        #expect(throws: QuickProxy.Failure.self) { try QuickProxy.configuration(from: ":1", to: ["https://10.0.0.1"]) }
        #expect(throws: QuickProxy.Failure.self) { try QuickProxy.configuration(from: ":1", to: ["http://a:1/path"]) }
        #expect(throws: QuickProxy.Failure.self) { try QuickProxy.configuration(from: ":1", to: []) }
    }

    @Test func meridianProxyFromTheCommandLine() async throws {
        try await withUpstreams(2) { ups in
            let m = try MeridianProcess(
                arguments: ["proxy", "--from", "127.0.0.1:0", "--admin", "127.0.0.1:0"] + ups.flatMap { ["--to", "http://\($0.address)"] }
            )
            let port = try await m.port(of: "proxy")
            var seen: Set<String> = []
            for _ in 0..<4 {
                let r = try await RawClient.exchange(port: port, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                #expect(r.status == 200)
                seen.insert(r.header("x-upstream") ?? "")
            }
            #expect(seen == ["u0", "u1"])
            m.signal(SIGINT)
            #expect(await m.waitForExit() == 0)
        }
        let (code, out) = try await MeridianProcess.run(["proxy", "--from", ":1", "--to", "https://10.0.0.1:1"])
        #expect(code != 0)
        #expect(out.contains("cannot be verified by name"))
    }
}
