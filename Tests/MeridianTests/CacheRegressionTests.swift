import Foundation
import NIOConcurrencyHelpers
import Testing

/// What a review of the cache found, each pinned by a test: fills that outlive their client, one Date, HEAD and
/// Range forwarded as sent when nothing will be stored, request-side reasons that do not make a URL pass,
/// invalidations that leave no rule behind, a Redis that refuses writes.
@Suite(.serialized)
struct CacheRegressionTests {
    @Test func aClientThatLeavesMidBodyDoesNotEndTheFill() async throws {
        let big = String(repeating: "f", count: 300_000)
        try await CacheTests.withCache({ _ in
            var r = ScriptedOrigin.Reply(headers: [("cache-control", "max-age=60")], body: big)
            r.pieces = 6
            r.pieceDelay = 50
            return r
        }) { origin, server, _ in
            let leaver = try await server.client()
            try await leaver.send("GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
            try await waitUntil { origin.requests == 1 }
            try await Task.sleep(for: .milliseconds(60))  // the head and a piece are out
            await leaver.close()
            try await waitUntil(timeout: .seconds(5)) { try await server.get("/big").header("cache-status")?.contains("hit") == true }
            #expect(try await server.get("/big").body.count == 300_000)
            #expect(origin.requests == 1)
        }
    }

    @Test func hitsCarryOneDateField() async throws {
        try await CacheTests.withCache(CacheTests.reply("max-age=60")) { _, server, _ in
            _ = try await server.get("/d")
            let hit = try await server.get("/d")
            #expect(hit.headers("date").count == 1)
            let notModified = try await server.get("/d", headers: ["If-None-Match": "*"])
            #expect(notModified.headers("date").count <= 1)
        }
    }

    @Test func aHeadOnAStaleEntryIsForwardedAsTheClientSentIt() async throws {
        try await CacheTests.withCache(CacheTests.reply("max-age=10", extra: [("etag", "\"h\"")])) { origin, server, clock in
            _ = try await server.get("/h")
            clock.advance(20)
            let head = try await server.get("/h", method: "HEAD")
            #expect(head.status == 200)
            #expect(origin.seen.last?.method == "HEAD")
            #expect(origin.seen.last?.header("if-none-match") == nil)
        }
    }

    @Test func aURLThatPassesGetsTheClientsRangeAndValidatorsForwarded() async throws {
        try await CacheTests.withCache({ _ in .init(headers: [("cache-control", "private")], body: "0123456789") }) { origin, server, _ in
            _ = try await server.get("/p")  // learns the URL passes
            _ = try await server.get("/p", headers: ["Range": "bytes=0-3", "If-None-Match": "\"x\""])
            #expect(origin.seen.last?.header("range") == "bytes=0-3")
            #expect(origin.seen.last?.header("if-none-match") == "\"x\"")
        }
    }

    /// A request's own reasons (Authorization, no-store) do not make the URL pass, nor replace its entry.
    @Test func aRequestsOwnReasonsLeaveTheEntryInPlace() async throws {
        try await CacheTests.withCache(CacheTests.reply("max-age=60")) { origin, server, _ in
            _ = try await server.get("/a")
            _ = try await server.get("/a", headers: ["Authorization": "Bearer x", "Cache-Control": "no-cache"])
            _ = try await server.get("/a", headers: ["Cache-Control": "no-store, no-cache"])
            #expect(try await server.get("/a").header("cache-status")?.contains("hit") == true)
            #expect(origin.requests == 3)
        }
    }

    /// RFC 9111 §4.4 invalidations and URL purges leave no purge rule behind (rules are for prefixes and tags), and
    /// reach every variant in Redis and every instance's L1.
    @Test func invalidationsLeaveNoRuleAndReachEveryVariant() async throws {
        let redis = try await RedisServer()
        try await withOrigin({ seen in
            if seen.method == "POST" { return .init(status: 204) }
            return .init(headers: [("cache-control", "max-age=600"), ("vary", "accept-language")], body: seen.header("accept-language") ?? "-")
        }) { origin in
            try await CacheClusterTests.withInstances(2, redis: redis, origin: origin) { s in
                for language in ["en", "fr"] {
                    _ = try await s[0].get("/v", headers: ["Accept-Language": language])
                    try await waitUntil {
                        try await s[1].get("/v", headers: ["Accept-Language": language, "Cache-Control": "only-if-cached"]).status == 200
                    }
                }
                _ = try await s[0].get("/v", method: "POST")
                for language in ["en", "fr"] {
                    try await waitUntil(timeout: .milliseconds(500)) {
                        try await s[1].get("/v", headers: ["Accept-Language": language, "Cache-Control": "only-if-cached"]).status == 504
                    }
                }
                let rules = try await redis.cli("--scan", "--pattern", "*cache:bans")
                #expect(rules.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "a rule was recorded: \(rules)")
            }
        }
    }

    /// Redis refusing writes (OOM under noeviction): a cold miss goes to the origin at once instead of waiting for
    /// a lock nobody can take.
    @Test func aRedisThatRefusesWritesDoesNotMakeMissesWait() async throws {
        let redis = try await RedisServer()
        try await withOrigin(CacheTests.reply("max-age=60")) { origin in
            try await CacheClusterTests.withInstances(1, redis: redis, origin: origin) { s in
                _ = try await s[0].get("/warm")
                _ = try await redis.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
                _ = try await redis.cli("CONFIG", "SET", "maxmemory", "1")
                let started = ContinuousClock.now
                let r = try await s[0].get("/cold")
                #expect(r.status == 200)
                #expect(ContinuousClock.now - started < .seconds(1))
                _ = try await redis.cli("CONFIG", "SET", "maxmemory", "0")
            }
        }
    }

    /// An upstream that sends a coding the key does not name (zstd under the `br` key): a client that cannot take it
    /// is not sent it.
    @Test func aStoredCodingTheClientCannotTakeIsNotServed() async throws {
        try await CacheTests.withCache({ seen in
            let zstd = seen.header("accept-encoding")?.contains("zstd") == true
            return .init(
                headers: [("cache-control", "max-age=60"), ("vary", "accept-encoding")] + (zstd ? [("content-encoding", "zstd")] : []),
                body: zstd ? "zstd bytes" : "plain")
        }) { origin, server, _ in
            _ = try await server.get("/z", headers: ["Accept-Encoding": "gzip, deflate, br, zstd"])
            let safari = try await server.get("/z", headers: ["Accept-Encoding": "gzip, deflate, br"])
            #expect(safari.header("content-encoding") == nil)
            #expect(safari.text == "plain")
            #expect(origin.requests == 2)
        }
    }

    /// `PURGE` from an address outside `purge.allow` is refused with 403, and the entry stays.
    @Test func purgeFromOutsideTheAllowListIsForbidden() async throws {
        try await CacheTests.withCache(stores: "cache: {purge: {method: true, allow: [10.0.0.0/8]}}", CacheTests.reply("max-age=60")) { origin, server, _ in
            _ = try await server.get("/kept")
            let refused = try await server.get("/kept", method: "PURGE")
            #expect(refused.status == 403)
            #expect(try await server.get("/kept").header("cache-status")?.contains("hit") == true)
            #expect(origin.requests == 1)
        }
    }
}
