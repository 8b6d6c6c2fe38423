import Foundation
@testable import MeridianSecurity
import Testing

/// Brute-force bans: the pure policy with a manual clock, then real clients failing basic auth against one
/// instance (local counting) and against two instances sharing a real `redis-server` (cluster-wide bans).
@Suite struct BruteForceTests {
    typealias Policy = BruteForcePolicy<ManualClock.Instant>

    @Test func failuresWithinTheWindowBanAndRepeatBansDouble() {
        var clock = ManualClock()
        var p = Policy(settings: .init(maxFailures: 3, window: .seconds(60), ban: .seconds(10), maxBan: .seconds(35)))
        #expect(p.failed("ip:a", now: clock.now) == .counted(failures: 1))
        clock.advance(by: .seconds(61))  // the window passed: counting starts over
        #expect(p.failed("ip:a", now: clock.now) == .counted(failures: 1))
        #expect(p.failed("ip:a", now: clock.now) == .counted(failures: 2))
        #expect(p.failed("ip:a", now: clock.now) == .banned(for: .seconds(10)))
        #expect(p.banRemaining("ip:a", now: clock.now) == .seconds(10))
        #expect(p.banRemaining("ip:b", now: clock.now) == nil, "keys are apart")
        clock.advance(by: .seconds(4))
        #expect(p.failed("ip:a", now: clock.now) == .banned(for: .seconds(6)), "failures while banned do not extend it")
        clock.advance(by: .seconds(6))
        #expect(p.banRemaining("ip:a", now: clock.now) == nil)
        for _ in 0..<2 { _ = p.failed("ip:a", now: clock.now) }
        #expect(p.failed("ip:a", now: clock.now) == .banned(for: .seconds(20)), "the second ban doubles")
        clock.advance(by: .seconds(20))
        for _ in 0..<2 { _ = p.failed("ip:a", now: clock.now) }
        #expect(p.failed("ip:a", now: clock.now) == .banned(for: .seconds(35)), "capped at max_ban")
        clock.advance(by: .seconds(35 + 35))  // clean for max_ban after the ban: forgiven
        for _ in 0..<2 { _ = p.failed("ip:a", now: clock.now) }
        #expect(p.failed("ip:a", now: clock.now) == .banned(for: .seconds(10)))
        #expect(p.bans(now: clock.now).map(\.key) == ["ip:a"])
        let lifted = p.lift("ip:a", now: clock.now)
        #expect(lifted && p.banRemaining("ip:a", now: clock.now) == nil)
        let again = p.lift("ip:a", now: clock.now)
        #expect(!again)
    }

    @Test func aFullTableForgetsTheStalestKeysFirst() {
        var clock = ManualClock()
        var p = Policy(settings: .init(maxFailures: 2, window: .seconds(60), ban: .seconds(600), maxBan: .seconds(600)), capacity: 100)
        _ = p.failed("ip:banned", now: clock.now)
        _ = p.failed("ip:banned", now: clock.now)
        for i in 0..<500 {
            clock.advance(by: .milliseconds(10))
            _ = p.failed("ip:spray-\(i)", now: clock.now)
        }
        #expect(p.entries.count <= 100)
        #expect(p.banRemaining("ip:banned", now: clock.now) != nil, "spraying new keys does not push a ban out")
    }

    static func yaml(_ upstreams: [TestUpstream], redis: Int? = nil, prefix: String = "bf") -> String {
        """
        \(redis.map { "redis: {url: \"redis://127.0.0.1:\($0)\", key_prefix: \"\(prefix)\"}" } ?? "")
        upstreams:
          - name: api
            endpoints: [\(upstreams.map(\.address).joined(separator: ", "))]
        auth:
          gate:
            basic:
              users: [{name: alice, hash: "\(AuthTests.bcryptHash)"}]
        brute_force: {max_failures: 3, window: 1m, ban: 30s, max_ban: 1h, by: [client_ip, user]}
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                proxy: api
                auth: gate
        """
    }

    static let wrong = ["Authorization": AuthTests.basic("alice", "guess")]
    static let right = ["Authorization": AuthTests.basic("alice", "correct horse")]

    static func admin(_ s: TestServer, _ method: String, _ path: String) async throws -> TestResponse {
        try await RawClient.exchange(port: s.adminPort!, "\(method) \(path) HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func repeatedFailuresBanTheClientUntilAnOperatorLiftsIt() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.yaml(ups)) { s in
                for _ in 0..<3 { #expect(try await s.get("/", headers: Self.wrong).status == 401) }
                let banned = try await s.get("/", headers: Self.right)
                #expect(banned.status == 403, "banned: even the right password is refused")
                #expect((25...30).contains(Int(banned.header("retry-after") ?? "") ?? 0), "\(banned.header("retry-after") ?? "")")
                #expect(ups[0].requests == 0)
                let list = try await Self.admin(s, "GET", "/auth/bans")
                #expect(list.text.contains("\"key\":\"ip:127.0.0.1\"") && list.text.contains("\"key\":\"user:gate:alice\""), "\(list.text)")
                #expect(try await Self.admin(s, "DELETE", "/auth/bans/ip:127.0.0.1").status == 204)
                #expect(try await s.get("/", headers: Self.right).status == 403, "the user is still banned")
                #expect(try await Self.admin(s, "DELETE", "/auth/bans/user:gate:alice").status == 204)
                #expect(try await Self.admin(s, "DELETE", "/auth/bans/user:gate:alice").status == 404)
                #expect(try await s.get("/", headers: Self.right).status == 200)
                let m = try await AuthTests.metrics(s)
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"gate\",result=\"banned\"} 2"), "\(m)")
            }
        }
    }

    @Test func failuresOnTwoInstancesBanOnBothThroughRedis() async throws {
        let redis = try await RedisServer()
        defer { redis.stop() }
        try await withUpstreams(1) { ups in
            try await withTestServers(2, Self.yaml(ups, redis: redis.port, prefix: "bf\(UUID().uuidString.prefix(6))")) { s in
                #expect(try await s[0].get("/", headers: Self.wrong).status == 401)
                #expect(try await s[1].get("/", headers: Self.wrong).status == 401)
                #expect(try await s[0].get("/", headers: Self.wrong).status == 401)  // the third, counted in Redis
                // The ban is published: the other instance refuses too, without a failure of its own.
                try await waitUntil(timeout: .seconds(2)) { try await s[1].get("/", headers: Self.right).status == 403 }
                try await waitUntil(timeout: .seconds(2)) { try await s[0].get("/", headers: Self.right).status == 403 }
                let list = try await Self.admin(s[1], "GET", "/auth/bans")
                #expect(list.text.contains("ip:127.0.0.1"), "\(list.text)")
                // Lifted through one instance: lifted on both.
                #expect(try await Self.admin(s[1], "DELETE", "/auth/bans/ip:127.0.0.1").status == 204)
                #expect(try await Self.admin(s[1], "DELETE", "/auth/bans/user:gate:alice").status == 204)
                try await waitUntil(timeout: .seconds(2)) { try await s[0].get("/", headers: Self.right).status == 200 }
                #expect(try await s[1].get("/", headers: Self.right).status == 200)
            }
        }
    }
}
