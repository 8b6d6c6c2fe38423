import Foundation
import NIOConcurrencyHelpers
import Testing

/// Circuit breakers shared by three in-process instances through one real `redis-server`.
@Suite(.serialized)
struct SharedBreakerTests {
    static func yaml(redis: Int, upstream: TestUpstream, openFor: String = "2s", maxProbes: Int = 3) -> String {
        """
        server: {event_loops: 1}
        redis: {url: "redis://127.0.0.1:\(redis)", key_prefix: "t\(UUID().uuidString.prefix(8))"}
        upstreams:
          - name: api
            endpoints: [\(upstream.address)]
            retries: {max: 0}
            outlier_detection: {enabled: false}
            circuit_breaker: {minimum_requests: 10, failure_ratio: 0.5, window: 10s, open_for: \(openFor), max_probes: \(maxProbes), min_reporting_instances: 2}
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                proxy: api
        """
    }

    /// Three instances with one config (one key prefix: one cluster).
    static func withInstances<T>(
        _ count: Int, redis: RedisServer, upstream: TestUpstream, openFor: String = "2s", _ body: ([TestServer]) async throws -> T
    ) async throws -> T {
        try await withTestServers(count, yaml(redis: redis.port, upstream: upstream, openFor: openFor), body)
    }

    /// Failures through A and B (the upstream failing) until C's breaker is open: a cluster-wide open.
    static func openThroughAAndB(_ s: [TestServer]) async throws {
        for _ in 0..<6 {
            _ = try await s[0].get("/")
            _ = try await s[1].get("/")
        }
        try await waitUntil(timeout: .seconds(2)) { breakerOpen(try await s[2].get("/")) }
    }

    static func breakerOpen(_ r: TestResponse) -> Bool { r.status == 503 && r.header("retry-after") != nil }

    @Test func failuresSeenThroughTwoInstancesOpenTheBreakerOnTheThirdWithinASecond() async throws {
        let redis = try await RedisServer()
        try await withUpstreams(1) { ups in
            ups[0].failure.withLockedValue { $0 = 500 }
            // A long open period: the cluster may open before the last of the ten failures, and on a loaded machine
            // (CI's parallel suite) the default 2 s had run out, the shared breaker half-open, by the time the
            // metrics and /status.json were read (a clean-clone run of 7571e72).
            try await Self.withInstances(3, redis: redis, upstream: ups[0], openFor: "10s") { s in
                // Five failures each through A and B: half of either's own minimum of ten, ten together.
                // (The cluster may open before the last of them: the batches go every 100 ms.)
                for _ in 0..<5 {
                    for server in s[0...1] {
                        let r = try await server.get("/")
                        #expect(r.status == 500 || Self.breakerOpen(r))
                    }
                }
                let failed = ContinuousClock.now
                let before = ups[0].requests
                var open = false
                while ContinuousClock.now - failed < .seconds(1) {
                    if Self.breakerOpen(try await s[2].get("/")) { open = true; break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                let took = ContinuousClock.now - failed
                #expect(open, "C's breaker did not open within 1 s")
                print("shared breaker open on C \(took) after the last failure")
                // And A and B too, though neither saw ten failures itself.
                #expect(Self.breakerOpen(try await s[0].get("/")))
                #expect(Self.breakerOpen(try await s[1].get("/")))
                let served = ups[0].requests - before
                // C sent at most the few requests that went before the message arrived.
                #expect(served < 10)
                let metrics = try await RawClient.exchange(port: s[2].adminPort!, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(metrics.text.contains("meridian_breaker_state{cluster=\"api\",endpoint=\"\(ups[0].address)\",scope=\"shared\",state=\"open\"} 1"))
                #expect(metrics.text.contains("meridian_breaker_state{cluster=\"api\",endpoint=\"\(ups[0].address)\",scope=\"local\",state=\"open\"} 1"))
                // And /status.json (what the status page draws): the local and the cluster-wide breaker, and Redis.
                let status = try await s[2].admin("/status.json")
                let doc = try #require(try JSONSerialization.jsonObject(with: Data(status.body)) as? [String: Any])
                let row = try #require((doc["upstreams"] as? [[String: Any]])?.first)
                #expect(row["breaker"] as? String == "open" && row["breaker_shared"] as? String == "open")
                #expect((doc["instance"] as? [String: Any])?["redis"] as? String == "connected")
            }
        }
    }

    @Test func failuresSeenThroughOneInstanceOpenOnlyItsOwnBreaker() async throws {
        let redis = try await RedisServer()
        try await withUpstreams(1) { ups in
            ups[0].failure.withLockedValue { $0 = 500 }
            // A long open period: on a loaded machine the twelve requests may take longer than the default 2 s,
            // and a half-open probe would then answer the check below with the upstream's 500.
            try await Self.withInstances(3, redis: redis, upstream: ups[0], openFor: "30s") { s in
                for _ in 0..<12 { _ = try await s[0].get("/") }
                #expect(Self.breakerOpen(try await s[0].get("/")), "A's own breaker opens on its own failures")
                // Well past the batch interval, the cluster-wide breaker is still closed (one reporter is
                // not a quorum), on B and C alike, and B still sends to the upstream.
                try await Task.sleep(for: .milliseconds(500))
                for server in s[1...2] {
                    let metrics = try await RawClient.exchange(port: server.adminPort!, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                    #expect(metrics.text.contains("scope=\"shared\",state=\"closed\"} 1"))
                    #expect(metrics.text.contains("scope=\"local\",state=\"closed\"} 1"))
                }
                let before = ups[0].requests
                #expect(try await s[1].get("/").status == 500)
                #expect(ups[0].requests - before == 1)
            }
        }
    }

    @Test func halfOpenProbesAreHandedOutClusterWide() async throws {
        let redis = try await RedisServer()
        try await withUpstreams(1) { ups in
            ups[0].failure.withLockedValue { $0 = 500 }
            try await Self.withInstances(3, redis: redis, upstream: ups[0], openFor: "1s") { s in
                try await Self.openThroughAAndB(s)
                // The upstream recovers, slowly: each probe stays in flight for 800 ms. Once the open period is
                // over every instance wants to probe; alone, each would have up to max_probes (3) in flight.
                ups[0].failure.withLockedValue { $0 = nil }
                try await Task.sleep(for: .milliseconds(1100))
                // Requests at every instance every 30 ms until the first probe reaches the upstream (tokens come
                // from Redis, so the first asks of each instance are refused), then 300 ms more.
                let before = ups[0].requests
                var tasks: [Task<Void, Never>] = []
                var firstProbe: ContinuousClock.Instant?
                let give = ContinuousClock.now + .seconds(5)
                while ContinuousClock.now < give {
                    for server in s { tasks.append(Task { _ = try? await server.get("/slow/800") }) }
                    try await Task.sleep(for: .milliseconds(30))
                    if firstProbe == nil, ups[0].requests > before { firstProbe = .now }
                    if let firstProbe, ContinuousClock.now - firstProbe > .milliseconds(300) { break }
                }
                let probes = ups[0].requests - before
                print("probes in flight across three instances: \(probes)")
                #expect(probes >= 1 && probes <= 3, "\(probes) probes reached the upstream; the cluster hands out 3 in all")
                for task in tasks { await task.value }
            }
        }
    }

    @Test func probesThatSucceedCloseTheBreakerEverywhere() async throws {
        let redis = try await RedisServer()
        try await withUpstreams(1) { ups in
            ups[0].failure.withLockedValue { $0 = 500 }
            try await Self.withInstances(3, redis: redis, upstream: ups[0], openFor: "1s") { s in
                try await Self.openThroughAAndB(s)
                ups[0].failure.withLockedValue { $0 = nil }
                // After the period, probes from any instances succeed and the cluster closes the breaker.
                try await waitUntil(timeout: .seconds(5)) {
                    var all = true
                    for server in s where try await server.get("/").status != 200 { all = false }
                    return all
                }
            }
        }
    }
}
