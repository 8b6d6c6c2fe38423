import Foundation
import Testing

/// The reverse proxy against real upstream servers on loopback: forwarding, header rules, error
/// statuses and their reasons.
@Suite struct ProxyTests {
    static func config(_ upstreams: [TestUpstream], cluster: String = "", route: String = "proxy: api", server: String = "") -> String {
        """
        \(server)
        upstreams:
          - name: api
            endpoints: [\(upstreams.map(\.address).joined(separator: ", "))]
        \(cluster.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                \(route.split(separator: "\n").joined(separator: "\n        "))
        """
    }

    @Test func forwardsAndAnswersWithTheUpstreamsResponse() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups)) { server in
                let r = try await server.get("/hello?x=1", headers: ["X-Custom": "yes"])
                #expect(r.status == 200)
                #expect(r.header("x-upstream") == "u0")
                #expect(r.text.contains("target: /hello?x=1"))
                #expect(r.text.contains("x-custom: yes"))
                #expect(r.text.contains("x-forwarded-for: 127.0.0.1"))
                #expect(r.text.contains("x-forwarded-proto: http"))
                #expect(r.text.contains("x-forwarded-host: localhost"))
                #expect(r.text.contains("forwarded: for=127.0.0.1;proto=http;host=localhost"))
                #expect(r.text.contains("via: 1.1 meridian"))
                #expect(r.text.contains("host: localhost"))
                #expect(r.header("content-length") == String(r.body.count))
                #expect(r.header("server") == "meridian", "the upstream's Date/Server are replaced by ours, once")
                #expect(r.headers("date").count == 1)
            }
        }
    }

    @Test func hopByHopHeadersAreRemovedBothWays() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups)) { server in
                let r = try await server.get(
                    "/", headers: ["Connection": "keep-alive, X-Secret", "X-Secret": "drop me", "Keep-Alive": "timeout=5", "TE": "trailers",
                        "Proxy-Authorization": "Basic x"]
                )
                #expect(r.status == 200)
                #expect(!r.text.contains("x-secret"))
                #expect(!r.text.contains("keep-alive: timeout"))
                #expect(!r.text.contains("proxy-authorization"))
                #expect(!r.text.lowercased().contains("\nte: "))
            }
        }
    }

    @Test func forwardedHeadersFromUntrustedPeersAreReplaced() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups)) { server in
                let r = try await server.get("/", headers: ["X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6", "X-Forwarded-Proto": "https"])
                #expect(r.text.contains("x-forwarded-for: 127.0.0.1\n"))
                #expect(!r.text.contains("6.6.6.6"))
                #expect(r.text.contains("x-forwarded-proto: http\n"))
            }
            // A trusted peer's chain is extended.
            try await withTestServer(Self.config(ups, server: "server: {trusted_proxies: [127.0.0.0/8]}")) { server in
                let r = try await server.get("/", headers: ["X-Forwarded-For": "203.0.113.7", "Forwarded": "for=203.0.113.7", "X-Forwarded-Proto": "https"])
                #expect(r.text.contains("x-forwarded-for: 203.0.113.7, 127.0.0.1\n"))
                #expect(r.text.contains("forwarded: for=203.0.113.7, for=127.0.0.1"))
                #expect(r.text.contains("x-forwarded-proto: https\n"))
            }
        }
    }

    @Test func pathRewritesHostRulesAndHeaderRules() async throws {
        try await withUpstreams(1) { ups in
            let route = """
                proxy:
                      upstream: api
                      strip_prefix: /api
                      host: upstream
                      request_headers: {set: {X-Env: prod}, add: {X-Tag: a}, remove: [X-Drop]}
                      response_headers: {set: {X-Served-By: meridian}, remove: [X-Upstream]}
                """
            try await withTestServer(Self.config(ups, route: route)) { server in
                let r = try await server.get("/api/users/7?q=1", headers: ["X-Drop": "1"])
                #expect(r.text.contains("target: /users/7?q=1"))
                #expect(r.text.contains("host: \(ups[0].address)"))
                #expect(r.text.contains("x-env: prod"))
                #expect(r.text.contains("x-tag: a"))
                #expect(!r.text.contains("x-drop"))
                #expect(r.header("x-served-by") == "meridian")
                #expect(r.header("x-upstream") == nil)
            }
            let rewrite = """
                proxy: {upstream: api, rewrite: {regex: "^/v1/(.*)$", to: "/v2/$1"}}
                """
            try await withTestServer(Self.config(ups, route: rewrite)) { server in
                let r = try await server.get("/v1/items/3?z=2")
                #expect(r.text.contains("target: /v2/items/3?z=2"))
            }
        }
    }

    @Test func connectionFailureIs502AndTimeoutIs504() async throws {
        // A port where nothing listens (tcpmux: a port a parallel test cannot have been given).
        let dead = "127.0.0.1:1"
        let yaml = """
            upstreams:
              - name: api
                endpoints: [\(dead)]
                retries: {max: 0}
            hosts:
              - default: true
                routes:
                  - match: {prefix: /}
                    proxy: api
            """
        try await withTestServer(yaml) { server in
            let r = try await server.get("/")
            #expect(r.status == 502)
            #expect(r.text == "502 Bad Gateway\n")
        }
        try await withUpstreams(1) { ups in
            let cluster = """
                timeouts: {first_byte: 300ms}
                retries: {max: 0}
                """
            try await withTestServer(Self.config(ups, cluster: cluster)) { server in
                let started = ContinuousClock.now
                let r = try await server.get("/never")
                #expect(r.status == 504)
                #expect(started.duration(to: .now) < .seconds(3))
            }
        }
    }

    @Test func invalidUpstreamResponsesAre502NeverPassedOn() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups, cluster: "retries: {max: 0}")) { server in
                for path in ["/malformed/both", "/malformed/garbage", "/malformed/huge-head", "/reset", "/close-early", "/cut"] {
                    let r = try await server.get(path)
                    #expect(r.status == 502, "\(path)")
                    #expect(!r.text.contains("hello"), "\(path)")
                }
            }
        }
    }

    @Test func keepAliveConnectionsAreReused() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups) + "\nserver: {event_loops: 1}") { server in
                for _ in 0..<20 {
                    let r = try await server.get("/")
                    #expect(r.status == 200)
                }
                #expect(ups[0].requests == 20)
                #expect(ups[0].connections == 1, "one pooled connection serves every request")
            }
        }
    }
}
