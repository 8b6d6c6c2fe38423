import Foundation
import Testing

/// Sends a GET and checks its status.
func expectStatus(_ server: TestServer, _ path: String, headers: [String: String] = [:], _ status: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let r = try await server.get(path, headers: headers)
    #expect(r.status == status, sourceLocation: sourceLocation)
}

/// `rate_limit:` on routes, local and global, over real sockets (and a real `redis-server` for global limits).
@Suite(.serialized)
struct RateLimitTests {
    static func yaml(_ limit: String, redis: Int? = nil, prefix: String = "t\(UUID().uuidString.prefix(8))", trusted: String = "") -> String {
        """
        server: {event_loops: 2\(trusted.isEmpty ? "" : ", trusted_proxies: [\(trusted)]")}
        \(redis.map { "redis: {url: \"redis://127.0.0.1:\($0)\", key_prefix: \"\(prefix)\", timeouts: {request: 1s}}" } ?? "")
        hosts:
          - default: true
            routes:
              - name: api
                match: {path: /tenants/:tenant/items}
                rate_limit: \(limit)
                respond: {status: 200, body: "ok"}
              - match: {prefix: /}
                rate_limit: \(limit)
                respond: {status: 200, body: "ok"}
        """
    }

    @Test func aLocalLimitAnswers429WithRetryAfterAndTheDraftFields() async throws {
        try await withTestServer(Self.yaml("{name: per-ip, rate: 5, per: 100s, key: client_ip}")) { server in
            for i in 0..<5 {
                let r = try await server.get("/")
                #expect(r.status == 200)
                #expect(r.header("ratelimit-policy") == "\"per-ip\";q=5;w=100")
                #expect(r.header("ratelimit")?.hasPrefix("\"per-ip\";r=\(4 - i);t=") == true, "\(r.header("ratelimit") ?? "")")
            }
            let refused = try await server.get("/")
            #expect(refused.status == 429)
            // The next token comes 20 s after the first was taken (less what the test took, if slow).
            #expect((15...20).contains(Int(refused.header("retry-after") ?? "") ?? 0), "\(refused.header("retry-after") ?? "")")
            #expect(refused.header("ratelimit")?.hasPrefix("\"per-ip\";r=0;t=") == true)
            #expect(refused.header("cache-control") == "no-store")
            let metrics = try await RawClient.exchange(port: server.adminPort!, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(metrics.text.contains("meridian_ratelimit_requests_total{policy=\"per-ip\",scope=\"local\",result=\"limited\"} 1"))
            #expect(metrics.text.contains("meridian_ratelimit_requests_total{policy=\"per-ip\",scope=\"local\",result=\"allowed\"} 5"))
        }
    }

    @Test func headerCookieAndParameterKeysCountApart() async throws {
        try await withTestServer(Self.yaml("{rate: 2, per: 60s, key: \"header:X-API-Key\"}")) { server in
            for _ in 0..<2 { try await expectStatus(server, "/", headers: ["X-API-Key": "a"], 200) }
            try await expectStatus(server, "/", headers: ["X-API-Key": "a"], 429)
            try await expectStatus(server, "/", headers: ["X-API-Key": "b"], 200)
            // No header at all is one more key, not a way around the limit.
            for _ in 0..<2 { try await expectStatus(server, "/", 200) }
            try await expectStatus(server, "/", 429)
        }
        try await withTestServer(Self.yaml("{rate: 1, per: 60s, key: \"cookie:session\"}")) { server in
            try await expectStatus(server, "/", headers: ["Cookie": "theme=dark; session=s1"], 200)
            try await expectStatus(server, "/", headers: ["Cookie": "session=s1"], 429)
            try await expectStatus(server, "/", headers: ["Cookie": "session=s2"], 200)
        }
        let yaml = """
            server: {event_loops: 1}
            hosts:
              - default: true
                routes:
                  - match: {path: /tenants/:tenant/items}
                    rate_limit: {rate: 1, per: 60s, key: "param:tenant"}
                    respond: {status: 200, body: "ok"}
            """
        try await withTestServer(yaml) { server in
            try await expectStatus(server, "/tenants/a/items", 200)
            try await expectStatus(server, "/tenants/a/items", 429)
            try await expectStatus(server, "/tenants/b/items", 200)
        }
    }

    @Test func behindATrustedProxyTheClientIsTheNearestUntrustedForwardedAddress() async throws {
        try await withTestServer(Self.yaml("{rate: 1, per: 60s, key: client_ip}", trusted: "127.0.0.0/8")) { server in
            try await expectStatus(server, "/", headers: ["X-Forwarded-For": "203.0.113.9, 198.51.100.1"], 200)
            // A different first hop is a forgery the proxy appended to: the nearest untrusted hop decides.
            try await expectStatus(server, "/", headers: ["X-Forwarded-For": "1.1.1.1, 198.51.100.1"], 429)
            try await expectStatus(server, "/", headers: ["X-Forwarded-For": "198.51.100.2"], 200)
        }
        try await withTestServer(Self.yaml("{rate: 1, per: 60s, key: client_ip}")) { server in
            // Not behind a trusted proxy: the header is the client's to write, and ignored.
            try await expectStatus(server, "/", headers: ["X-Forwarded-For": "198.51.100.3"], 200)
            try await expectStatus(server, "/", headers: ["X-Forwarded-For": "198.51.100.4"], 429)
        }
    }

    @Test(arguments: ["exact", "batched"])
    func aGlobalLimitIsSharedByTheInstances(mode: String) async throws {
        let redis = try await RedisServer()
        let batch = mode == "batched" ? ", batch: 2" : ""
        let yaml = Self.yaml("{rate: 10, per: 60s, key: route, scope: global, mode: \(mode)\(batch)}", redis: redis.port, prefix: "shared")
        try await withTestServer(yaml) { a in
            try await withTestServer(yaml) { b in
                var allowed = 0
                for i in 0..<20 {
                    let r = try await (i % 2 == 0 ? a : b).get("/")
                    if r.status == 200 { allowed += 1 } else { #expect(r.status == 429) }
                }
                // Exact: the ten of the bucket. Batched: leases may strand a token or two in a hand (under) and
                // never admit more than the bucket holds (no refill within a minute).
                if mode == "exact" { #expect(allowed == 10) } else { #expect(allowed >= 8 && allowed <= 10, "\(allowed)") }
                let metrics = try await RawClient.exchange(port: a.adminPort!, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(metrics.text.contains("scope=\"global\",result=\"allowed\""))
            }
        }
    }

    @Test func withRedisDownAGlobalLimitFallsBackToTheInstancesShare() async throws {
        let redis = try await RedisServer()
        let yaml = Self.yaml("{rate: 10, per: 60s, key: route, scope: global, mode: exact}", redis: redis.port, prefix: "down")
        try await withTestServer(yaml) { a in
            try await withTestServer(yaml) { b in
                // Both instances have been seen alive (the heartbeat), then Redis goes away.
                try await waitUntil { try await redis.cli("ZCARD", "down:instances") == "2" }
                try await Task.sleep(for: .milliseconds(1100))
                redis.stop()
                try await waitUntil { try await RawClient.exchange(port: a.adminPort!, "GET /readyz?verbose HTTP/1.1\r\nHost: x\r\n\r\n").text.contains("[+]redis degraded:") }
                var allowed = 0
                let started = ContinuousClock.now
                for _ in 0..<10 {
                    let r = try await a.get("/")
                    #expect(r.status == 200 || r.status == 429)
                    if r.status == 200 { allowed += 1 }
                }
                // Ten requests answered without waiting on Redis, at the share: 10 / 2 instances.
                #expect(ContinuousClock.now - started < .seconds(2))
                #expect(allowed == 5)
                let ready = try await RawClient.exchange(port: a.adminPort!, "GET /readyz?verbose HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(ready.status == 200)
                let metrics = try await RawClient.exchange(port: a.adminPort!, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(metrics.text.contains("meridian_redis_degraded 1"))
                #expect(metrics.text.contains("scope=\"fallback\",result=\"allowed\"} 5"))
                _ = b
            }
        }
    }
}

/// The Redis call a request waits on is a CLIENT span under its SERVER span; background calls are none.
@Suite struct RedisSpanTests {
    @Test func anExactGlobalLimitsCallIsAClientSpanOfTheRequest() async throws {
        let receiver = try OTLPReceiver()
        defer { receiver.stop() }
        let redis = try await RedisServer()
        let yaml = """
            telemetry:
              tracing: {endpoint: "\(receiver.endpoint)", batch_delay: 100ms, ratio: 1}
            redis: {url: "redis://127.0.0.1:\(redis.port)", timeouts: {request: 200ms}}
            hosts:
              - default: true
                routes:
                  - name: api
                    match: {prefix: /}
                    rate_limit: {rate: 100, scope: global, mode: exact}
                    respond: {status: 200, body: "ok"}
            """
        try await withTestServer(yaml) { s in
            let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
            #expect(try await s.get("/", headers: ["traceparent": "00-\(trace)-00f067aa0ba902b7-01"]).status == 200)
            let client = try await receiver.waitForSpan { ($0["kind"] as? String) == "CLIENT" && ($0["trace_id"] as? String) == trace }
            #expect(client["name"] as? String == "EVALSHA")
            let a = try #require(client["attributes"] as? [String: Any])
            #expect(a["db.system.name"] as? String == "redis")
            #expect(a["server.port"] as? Int == redis.port)
            #expect(a["meridian.ratelimit.policy"] as? String == "api")
            let serverID = try #require(client["parent_span_id"] as? String)
            let server = try await receiver.waitForSpan { ($0["span_id"] as? String) == serverID }
            #expect(server["kind"] as? String == "SERVER")
        }
    }
}
