import Foundation
import Testing

/// Redis down is a degraded mode, not an outage: two real `meridian` processes under h2load while their
/// `redis-server` is killed and brought back. The load keeps both cores busy for seconds, so it runs after the suite,
/// on its own (`MERIDIAN_LARGE_TESTS=1`, as scripts/test.sh does), where it cannot starve the timing tests.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct RedisDegradedTests {
    static func config(redis: Int, upstream: String) -> String {
        """
        listeners:
          - name: http
            address: 127.0.0.1:0
        admin:
          address: 127.0.0.1:0
        server: {event_loops: 1}
        logging: {level: info}
        telemetry: {access_log: {enabled: false}}
        redis: {url: "redis://127.0.0.1:\(redis)", key_prefix: degraded, timeouts: {request: 20ms}}
        upstreams:
          - name: api
            endpoints: [\(upstream)]
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                rate_limit: {rate: 10000000, per: 1s, key: client_ip, scope: global, mode: exact}
                proxy: api
        """
    }

    /// `h2load` summary: (done, succeeded, failed, errored, 2xx, non-2xx).
    static func summary(_ out: String) -> (done: Int, succeeded: Int, failed: Int, errored: Int, ok: Int, other: Int)? {
        func numbers(after prefix: String) -> [Int]? {
            guard let line = out.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
            return line.dropFirst(prefix.count).split(separator: ",").compactMap { Int($0.split(separator: " ").first ?? "") }
        }
        guard let r = numbers(after: "requests: "), r.count >= 7, let s = numbers(after: "status codes: "), s.count >= 4 else { return nil }
        return (r[2], r[3], r[4], r[5], s[0], s[1] + s[2] + s[3])
    }

    @Test func killingRedisUnderLoadFailsNoRequestAndItsReturnResumesSharedMode() async throws {
        let redis = try await RedisServer()
        try await withUpstreams(1) { ups in
            let a = try MeridianProcess(config: Self.config(redis: redis.port, upstream: ups[0].address))
            let b = try MeridianProcess(config: Self.config(redis: redis.port, upstream: ups[0].address))
            let ports = [try await a.port(of: "http"), try await b.port(of: "http")]
            let admin = [try await a.port(of: "admin"), try await b.port(of: "admin")]
            try await waitUntil { try await redis.cli("ZCARD", "degraded:instances") == "2" }
            // Six seconds of load on both; Redis dies two seconds in.
            let loads = ports.map { port in
                Task { try await Subprocess.run("h2load", ["--h1", "-D", "6", "-c", "4", "-m", "1", "http://127.0.0.1:\(port)/echo"], timeout: 60) }
            }
            try await Task.sleep(for: .seconds(2))
            redis.stop()
            for p in [a, b] { try await p.waitForLog("redis degraded", timeout: .seconds(5)) }
            for port in admin {
                let ready = try await RawClient.exchange(port: port, "GET /readyz?verbose HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(ready.status == 200)
                #expect(ready.text.contains("[+]redis degraded: "), "\(ready.text)")
                let metrics = try await RawClient.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(metrics.text.contains("meridian_redis_degraded 1"))
                #expect(metrics.text.contains("meridian_redis_degraded_transitions_total 1"))
            }
            for load in loads {
                let (code, out) = try await load.value
                let s = try #require(Self.summary(out), "h2load said: \(out)")
                #expect(code == 0)
                #expect(s.done > 100 && s.succeeded == s.done && s.failed == 0 && s.errored == 0, "\(out)")
                #expect(s.ok == s.done && s.other == 0, "every response a 2xx: \(out)")
            }
            // Redis comes back: both reconnect, resubscribe and beat again within five seconds.
            let mark = [a.log.count, b.log.count]
            try await redis.start()
            let back = ContinuousClock.now
            try await a.waitForLog("redis connected: shared state resumes", after: mark[0], timeout: .seconds(5))
            try await b.waitForLog("redis connected: shared state resumes", after: mark[1], timeout: .seconds(5))
            try await waitUntil(timeout: .seconds(5)) { try await redis.cli("ZCARD", "degraded:instances") == "2" }
            try await waitUntil(timeout: .seconds(5)) { try await redis.cli("PUBSUB", "NUMSUB", "degraded:breakers").hasSuffix("2") }
            print("shared mode resumed \(ContinuousClock.now - back) after redis-server restarted")
            for port in admin {
                let metrics = try await RawClient.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(metrics.text.contains("meridian_redis_degraded 0"))
                let ready = try await RawClient.exchange(port: port, "GET /readyz?verbose HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(ready.text.contains("[+]redis ok: connected"))
            }
            // And the global limit is answered by Redis again, not by the local share.
            func answered(_ scope: String) async throws -> Int {
                let metrics = try await RawClient.exchange(port: admin[0], "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").text
                let prefix = "meridian_ratelimit_requests_total{policy=\"/\",scope=\"\(scope)\",result=\"allowed\"} "
                return metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
            }
            let (global, fallback) = (try await answered("global"), try await answered("fallback"))
            #expect(fallback > 0, "the outage was answered locally")
            for _ in 0..<5 { #expect(try await RawClient.exchange(port: ports[0], "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n").status == 200) }
            #expect(try await answered("global") == global + 5)
            #expect(try await answered("fallback") == fallback)
            a.signal(SIGTERM)
            b.signal(SIGTERM)
            _ = await a.waitForExit()
            _ = await b.waitForExit()
        }
    }
}
