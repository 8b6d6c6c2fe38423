import Foundation
import Testing

/// Three instances share one global limit under three times its rate: the cluster admits what the limit allows,
/// within 1% in exact mode and 5% in batched mode. Runs after the suite with `MERIDIAN_LARGE_TESTS=1` (seconds of
/// steady load); `bench/ratelimit.sh` measures the same at 1,000 req/s with release binaries.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct GlobalLimitAccuracyTests {
    @Test(arguments: [("exact", 0.01), ("batched", 0.05)])
    func threeInstancesUnderThreeTimesTheRateAdmitTheRate(mode: String, tolerance: Double) async throws {
        let redis = try await RedisServer()
        let rate = 100
        let burst = 20
        let yaml = """
            server: {event_loops: 1}
            redis: {url: "redis://127.0.0.1:\(redis.port)", key_prefix: accuracy, timeouts: {request: 50ms}}
            hosts:
              - default: true
                routes:
                  - name: api
                    match: {prefix: /}
                    rate_limit: {rate: \(rate), per: 1s, burst: \(burst), key: route, scope: global, mode: \(mode), batch: 5}
                    respond: {status: 200, body: "ok"}
            """
        var started: [TestServer] = []
        for _ in 0..<3 { started.append(try await TestServer.start(yaml)) }
        let servers = started
        defer { Task { for s in servers { await s.stop() } } }
        // Each client offers the limit's whole rate on its own: three times the limit together.
        let duration = Duration.seconds(5)
        let start = ContinuousClock.now + .milliseconds(100)
        let results = try await withThrowingTaskGroup(of: (allowed: Int, refused: Int, last: ContinuousClock.Instant).self) { group in
            for server in servers {
                group.addTask {
                    let c = try await server.client()
                    defer { Task { await c.close() } }
                    var (allowed, refused) = (0, 0)
                    var next = start
                    var last = start
                    while next < start + duration {
                        try await Task.sleep(until: next, clock: .continuous)
                        last = ContinuousClock.now
                        try await c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                        let r = try await c.readResponse()
                        if r.status == 200 { allowed += 1 } else if r.status == 429 { refused += 1 }
                        next = next + .milliseconds(1000 / rate)
                    }
                    return (allowed, refused, last)
                }
            }
            var all: [(allowed: Int, refused: Int, last: ContinuousClock.Instant)] = []
            for try await r in group { all.append(r) }
            return all
        }
        let admitted = results.reduce(0) { $0 + $1.allowed }
        let refused = results.reduce(0) { $0 + $1.refused }
        let elapsed = start.duration(to: results.map(\.last).max()!)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let expected = Double(burst) + Double(rate) * seconds
        let error = (Double(admitted) - expected) / expected
        print("\(mode): admitted \(admitted), refused \(refused) in \(seconds) s; expected \(Int(expected)); error \(Int((error * 1000).rounded()) / 10)%")
        #expect(refused > admitted, "the load was above the limit throughout")
        #expect(abs(error) <= tolerance, "admitted \(admitted) vs \(expected) expected")
    }
}
