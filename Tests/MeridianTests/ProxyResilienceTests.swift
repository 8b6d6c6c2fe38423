import Foundation
import Testing

/// Load balancing, ejection, breakers, retries and health checks through the whole proxy, against
/// real upstreams that fail on command. The policies' rules are tested with a manual clock in
/// their own suites; these check that the proxy carries out what they decide.
@Suite struct ProxyResilienceTests {
    static func yaml(_ ups: [TestUpstream], _ cluster: String, loops: Int = 1) -> String {
        """
        server: {event_loops: \(loops)}
        upstreams:
          - name: api
            endpoints: [\(ups.map(\.address).joined(separator: ", "))]
        \(cluster.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                proxy: api
        """
    }

    static func counts(_ responses: [TestResponse]) -> [String: Int] {
        responses.reduce(into: [:]) { $0[$1.header("x-upstream") ?? "-", default: 0] += 1 }
    }

    @Test(arguments: ["round_robin", "least_request", "p2c_ewma", "random", "ring_hash", "maglev"])
    func everyPolicyBuildsFromConfigAndServes(policy: String) async throws {
        try await withUpstreams(3) { ups in
            try await withTestServer(Self.yaml(ups, "balancing: \(policy)")) { server in
                var responses: [TestResponse] = []
                for _ in 0..<30 { responses.append(try await server.get("/")) }
                #expect(responses.allSatisfy { $0.status == 200 })
                let spread = Self.counts(responses)
                if policy == "ring_hash" || policy == "maglev" {
                    #expect(spread.count == 1, "one client address, one endpoint: \(spread)")
                } else {
                    #expect(spread.count >= 2, "\(spread)")
                }
                if policy == "round_robin" { #expect(spread.values.allSatisfy { $0 == 10 }, "\(spread)") }
            }
        }
    }

    @Test func headerHashingSendsAKeyToOneEndpointAndSpreadsKeys() async throws {
        try await withUpstreams(3) { ups in
            try await withTestServer(Self.yaml(ups, "balancing: {policy: maglev, hash_on: {header: X-User}}")) { server in
                var seen: [String: String] = [:]
                for round in 0..<3 {
                    for user in 0..<20 {
                        let r = try await server.get("/", headers: ["X-User": "user-\(user)"])
                        let at = try #require(r.header("x-upstream"))
                        if round > 0 { #expect(seen["user-\(user)"] == at) }
                        seen["user-\(user)"] = at
                    }
                }
                #expect(Set(seen.values).count == 3, "20 keys over 3 endpoints reach all of them")
            }
        }
    }

    @Test func consecutiveFailuresEjectAnEndpointUntilItsTimeIsOver() async throws {
        try await withUpstreams(2) { ups in
            let cluster = """
                outlier_detection: {consecutive_5xx: 3, base_ejection: 6s, max_ejection_percent: 50}
                circuit_breaker: {enabled: false}
                retries: {max: 0}
                """
            try await withTestServer(Self.yaml(ups, cluster)) { server in
                ups[1].failure.withLockedValue { $0 = 500 }
                var statuses: [Int] = []
                for _ in 0..<6 { statuses.append(try await server.get("/").status) }
                #expect(statuses.filter { $0 == 500 }.count == 3, "three 5xx pass through, then u1 is out: \(statuses)")
                let before = ups[1].requests
                for _ in 0..<10 { #expect(try await server.get("/").status == 200) }
                #expect(ups[1].requests == before, "an ejected endpoint gets nothing")
                ups[1].failure.withLockedValue { $0 = nil }
                // (6 s of ejection: the ten requests above took over 3 s once, in a full parallel run.)
                let back = try await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
                    _ = try await server.get("/")
                    return ups[1].requests > before
                }
                #expect(back, "it returns when its ejection is over")
            }
        }
    }

    @Test func anOpenBreakerAnswers503WithRetryAfterAndProbesToClose() async throws {
        try await withUpstreams(1) { ups in
            let cluster = """
                circuit_breaker: {minimum_requests: 4, failure_ratio: 0.5, open_for: 1s, max_probes: 1}
                outlier_detection: {enabled: false}
                retries: {max: 0}
                """
            try await withTestServer(Self.yaml(ups, cluster)) { server in
                ups[0].failure.withLockedValue { $0 = 502 }
                for _ in 0..<4 { #expect(try await server.get("/").status == 502) }
                let sent = ups[0].requests
                let refused = try await server.get("/")
                #expect(refused.status == 503)
                #expect(refused.header("retry-after") == "1")
                #expect(ups[0].requests == sent, "an open breaker sends nothing upstream")
                ups[0].failure.withLockedValue { $0 = nil }
                let closed = try await eventually(timeout: .seconds(5), every: .milliseconds(100)) {
                    try await server.get("/").status == 200
                }
                #expect(closed, "after open_for a probe goes through and, succeeding, closes the breaker")
                for _ in 0..<5 { #expect(try await server.get("/").status == 200) }
            }
        }
    }

    @Test func aResetIsRetriedOnAnotherEndpointForIdempotentRequests() async throws {
        try await withUpstreams(2) { ups in
            let cluster = """
                balancing: round_robin
                outlier_detection: {enabled: false}
                circuit_breaker: {enabled: false}
                """
            try await withTestServer(Self.yaml(ups, cluster)) { server in
                ups[0].failure.withLockedValue { $0 = 0 }
                for _ in 0..<6 {
                    let r = try await server.get("/")
                    #expect(r.status == 200)
                    #expect(r.header("x-upstream") == "u1")
                }
                #expect(ups[0].requests >= 2, "u0 was tried and reset")
                // A POST that reached the upstream is not repeated.
                let c = try await server.client()
                try await c.send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
                var posts: [Int] = []
                posts.append(try await c.readResponse().status)
                for _ in 0..<3 {
                    try await c.send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
                    posts.append(try await c.readResponse().status)
                }
                await c.close()
                #expect(posts.contains(502), "a POST sent to u0 fails as 502 instead of going again: \(posts)")
                #expect(posts.contains(200))
            }
        }
    }

    @Test func anExhaustedRetryBudgetStopsRetries() async throws {
        try await withUpstreams(2) { ups in
            let cluster = """
                balancing: round_robin
                outlier_detection: {enabled: false}
                circuit_breaker: {enabled: false}
                retries: {budget_percent: 0, min_concurrency: 0}
                """
            try await withTestServer(Self.yaml(ups, cluster)) { server in
                ups[0].failure.withLockedValue { $0 = 0 }
                var statuses: [Int] = []
                for _ in 0..<4 { statuses.append(try await server.get("/").status) }
                #expect(statuses.contains(502), "no budget, no retry: \(statuses)")
            }
        }
    }

    @Test func activeHealthChecksTakeEndpointsOutAndBack() async throws {
        try await withUpstreams(2) { ups in
            let cluster = """
                health_check: {path: /health, interval: 200ms, jitter: 0s, timeout: 100ms, healthy_threshold: 1, unhealthy_threshold: 1}
                """
            try await withTestServer(Self.yaml(ups, cluster)) { server in
                let admin = try #require(server.adminPort)
                ups[0].failure.withLockedValue { $0 = 503 }
                ups[1].failure.withLockedValue { $0 = 503 }
                let down = try await eventually(timeout: .seconds(5), every: .milliseconds(50)) {
                    try await RawClient.exchange(port: admin, "GET /readyz?verbose HTTP/1.1\r\nHost: a\r\n\r\n").text.contains("api 0/2 usable")
                }
                #expect(down)
                let r = try await server.get("/")
                #expect(r.status == 503, "no healthy endpoint: 503 at once")
                let ready = try await RawClient.exchange(port: admin, "GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n")
                #expect(ready.status == 200, "an upstream's health does not fail the instance's readiness")
                ups[1].failure.withLockedValue { $0 = nil }
                let up = try await eventually(timeout: .seconds(5), every: .milliseconds(50)) {
                    try await server.get("/").status == 200
                }
                #expect(up)
                #expect(try await server.get("/").header("x-upstream") == "u1")
            }
        }
    }

    @Test func concurrencyCapsAnswer503AtOnce() async throws {
        try await withUpstreams(1) { ups in
            for cluster in ["max_active: 1", "pool: {max_connections: 1}\nmax_pending: 0"] {
                try await withTestServer(Self.yaml(ups, cluster)) { server in
                    // A request that never gets an answer holds the one slot for as long as it lives.
                    let held = try await server.client()
                    try await held.send("GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
                    #expect(try await eventually { ups[0].stats.withLockedValue { $0.paths.last } == "/never" })
                    let refused = try await server.get("/")
                    #expect(refused.status == 503, "\(cluster)")
                    await held.close()
                }
            }
        }
    }

    @Test func aOneEndpointClusterRetriesOnANewConnectionToIt() async throws {
        try await withUpstreams(1) { ups in
            let cluster = """
                outlier_detection: {enabled: false}
                circuit_breaker: {enabled: false}
                """
            try await withTestServer(Self.yaml(ups, cluster)) { server in
                ups[0].failure.withLockedValue { $0 = 0 }
                let r = try await server.get("/")
                #expect(r.status == 502)
                #expect(ups[0].requests == 3, "the first try and two retries, each on a new connection")
                #expect(ups[0].connections == 3)
            }
        }
    }
}
