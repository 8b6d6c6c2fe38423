import Foundation
import NIOConcurrencyHelpers
import Testing

/// The HTTP cache in one instance, over real sockets: a scripted origin, Meridian in front, a raw HTTP/1.1 client.
/// The cache's clock is the test's (`TestClock`): ages and staleness move when the test says, not by sleeping.
@Suite(.serialized)
struct CacheTests {
    final class TestClock: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Double = 1_800_000_000
        var now: Double { lock.lock(); defer { lock.unlock() }; return value }
        func advance(_ seconds: Double) { lock.lock(); value += seconds; lock.unlock() }
        var reader: @Sendable () -> Double { { self.now } }
    }

    static func yaml(_ origin: ScriptedOrigin, cache: String = "on", stores: String = "", breaker: String = "{enabled: false}") -> String {
        """
        \(stores)
        upstreams:
          - name: origin
            endpoints: [\(origin.address)]
            retries: {max: 0}
            outlier_detection: {enabled: false}
            circuit_breaker: \(breaker)
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                proxy: origin
                cache: \(cache)
        """
    }

    /// An origin, a server in front with the test's clock, and the clock.
    static func withCache<T>(
        cache: String = "on", stores: String = "", breaker: String = "{enabled: false}",
        _ script: @escaping @Sendable (ScriptedOrigin.Seen) -> ScriptedOrigin.Reply,
        _ body: (ScriptedOrigin, TestServer, TestClock) async throws -> T
    ) async throws -> T {
        let clock = TestClock()
        return try await withOrigin(script) { origin in
            let server = try await TestServer.start(yaml(origin, cache: cache, stores: stores, breaker: breaker), cacheClock: clock.reader)
            let result: Result<T, any Error>
            do { result = .success(try await body(origin, server, clock)) } catch { result = .failure(error) }
            await server.stop()
            return try result.get()
        }
    }

    static func reply(_ cacheControl: String, body: String = "hello", extra: [(String, String)] = []) -> @Sendable (ScriptedOrigin.Seen) -> ScriptedOrigin.Reply {
        { _ in ScriptedOrigin.Reply(headers: [("cache-control", cacheControl), ("content-type", "text/plain")] + extra, body: body) }
    }

    // MARK: Storing and hits (RFC 9111 §3, §4.2)

    @Test func aFreshResponseIsServedFromL1WithAgeAndCacheStatus() async throws {
        try await Self.withCache(Self.reply("max-age=60")) { origin, server, clock in
            let first = try await server.get("/a")
            #expect(first.status == 200)
            #expect(first.text == "hello")
            #expect(first.header("cache-status") == "meridian-l1; fwd=uri-miss; fwd-status=200; stored")
            clock.advance(10)
            let second = try await server.get("/a")
            #expect(second.status == 200)
            #expect(second.text == "hello")
            #expect(second.header("age") == "10")
            #expect(second.header("cache-status") == "meridian-l1; hit; ttl=50")
            #expect(origin.requests == 1)
        }
    }

    @Test func theUpstreamsAgeCountsAndAnEntryGoesStaleAtItsLifetime() async throws {
        try await Self.withCache(Self.reply("max-age=60", extra: [("age", "50")])) { origin, server, clock in
            _ = try await server.get("/a")
            clock.advance(5)
            let hit = try await server.get("/a")
            #expect(hit.header("age") == "55")
            clock.advance(6)  // age 61 > 60: stale, and with no validator and no stale window, useless (§4.2, §4.3.1)
            let stale = try await server.get("/a")
            #expect(stale.header("cache-status")?.contains("fwd=uri-miss") == true)
            #expect(origin.requests == 2)
        }
    }

    @Test func noStorePrivateAndUncacheableStatusesAreNotStored() async throws {
        try await Self.withCache({ seen in
            switch seen.uri {
            case "/no-store": return .init(headers: [("cache-control", "no-store")], body: "x")
            case "/private": return .init(headers: [("cache-control", "private, max-age=60")], body: "x")
            case "/302": return .init(status: 302, headers: [("location", "/x")], body: "")
            default: return .init(headers: [("cache-control", "max-age=60")], body: "x")
            }
        }) { origin, server, _ in
            for path in ["/no-store", "/private", "/302"] {
                let r1 = try await server.get(path)
                let r2 = try await server.get(path)
                #expect(r1.header("cache-status")?.contains("stored") == false, "\(path)")
                #expect(r2.header("cache-status")?.contains("hit") == false, "\(path)")
                #expect(origin.requests(to: path) == 2, "\(path) was served from the cache")
            }
            // A request's own no-store (§5.2.1.5): forwarded, not stored.
            _ = try await server.get("/fresh", headers: ["Cache-Control": "no-store"])
            _ = try await server.get("/fresh")
            #expect(origin.requests(to: "/fresh") == 2)
        }
    }

    @Test func setCookieIsNeverHandedToTheNextClient() async throws {
        try await Self.withCache(Self.reply("max-age=60", extra: [("set-cookie", "session=alice")])) { origin, server, _ in
            let first = try await server.get("/a")
            #expect(first.header("set-cookie") == "session=alice")
            let second = try await server.get("/a")
            #expect(second.header("cache-status")?.contains("hit") == true)
            #expect(second.header("set-cookie") == nil)
            #expect(origin.requests == 1)
        }
    }

    @Test func aRequestWithAuthorizationIsStoredOnlyWhenTheResponseAllowsIt() async throws {
        try await Self.withCache({ seen in
            seen.uri == "/public"
                ? .init(headers: [("cache-control", "public, max-age=60")], body: "p")
                : .init(headers: [("cache-control", "max-age=60")], body: "s")
        }) { origin, server, _ in
            _ = try await server.get("/secret", headers: ["Authorization": "Bearer a"])
            _ = try await server.get("/secret", headers: ["Authorization": "Bearer b"])
            #expect(origin.requests(to: "/secret") == 2)  // §3.5: not shared without public / s-maxage / must-revalidate
            _ = try await server.get("/public", headers: ["Authorization": "Bearer a"])
            let hit = try await server.get("/public", headers: ["Authorization": "Bearer b"])
            #expect(hit.header("cache-status")?.contains("hit") == true)
            #expect(origin.requests(to: "/public") == 1)
        }
    }

    @Test func theRoutesDefaultTTLAppliesWhenTheResponseGivesNoFreshness() async throws {
        try await Self.withCache(cache: "{default_ttl: 30s}", { _ in .init(headers: [("content-type", "text/plain")], body: "x") }) { origin, server, clock in
            _ = try await server.get("/a")
            clock.advance(29)
            #expect(try await server.get("/a").header("cache-status")?.hasPrefix("meridian-l1; hit") == true)
            clock.advance(2)
            _ = try await server.get("/a")
            #expect(origin.requests == 2)
        }
    }

    @Test func queryParametersAreSortedAndIgnoredOnesLeftOutOfTheKey() async throws {
        try await Self.withCache(cache: "{ignore_query: [utm_source]}", Self.reply("max-age=60")) { origin, server, _ in
            _ = try await server.get("/p?b=2&a=1&utm_source=mail")
            let hit = try await server.get("/p?a=1&b=2")
            #expect(hit.header("cache-status")?.contains("hit") == true)
            _ = try await server.get("/p?a=1&b=3")
            #expect(origin.requests == 2)
        }
    }

    // MARK: Vary (§4.1)

    @Test func varyKeepsOneEntryPerVariant() async throws {
        try await Self.withCache({ seen in
            let language = seen.header("accept-language") ?? "none"
            return .init(headers: [("cache-control", "max-age=60"), ("vary", "Accept-Language")], body: "in \(language)")
        }) { origin, server, _ in
            #expect(try await server.get("/v", headers: ["Accept-Language": "en"]).text == "in en")
            #expect(try await server.get("/v", headers: ["Accept-Language": "fr"]).text == "in fr")
            let en = try await server.get("/v", headers: ["Accept-Language": "en"])
            let fr = try await server.get("/v", headers: ["Accept-Language": "fr"])
            #expect(en.text == "in en")
            #expect(fr.text == "in fr")
            #expect(en.header("cache-status")?.contains("hit") == true)
            #expect(origin.requests == 2)
            let other = try await server.get("/v", headers: ["Accept-Language": "de"])
            #expect(other.header("cache-status")?.contains("fwd=vary-miss") == true)
        }
    }

    @Test func varyStarIsNotStored() async throws {
        try await Self.withCache(Self.reply("max-age=60", extra: [("vary", "*")])) { origin, server, _ in
            _ = try await server.get("/v")
            _ = try await server.get("/v")
            #expect(origin.requests == 2)
        }
    }

    // MARK: Validation (§4.3)

    @Test func aStaleEntryIsRevalidatedAndA304RefreshesIt() async throws {
        let version = NIOLockedValueBox(1)
        try await Self.withCache({ seen in
            if seen.header("if-none-match") == "\"v1\"" {
                return .init(status: 304, headers: [("cache-control", "max-age=100"), ("etag", "\"v1\""), ("x-refreshed", "yes")])
            }
            let v = version.withLockedValue { $0 }
            return .init(headers: [("cache-control", "max-age=10"), ("etag", "\"v\(v)\"")], body: "body v\(v)")
        }) { origin, server, clock in
            _ = try await server.get("/r")
            clock.advance(20)
            let revalidated = try await server.get("/r")
            #expect(revalidated.status == 200)
            #expect(revalidated.text == "body v1")
            #expect(revalidated.header("x-refreshed") == "yes")  // §4.3.4: the 304's fields replace the stored ones
            #expect(revalidated.header("cache-status") == "meridian-l1; fwd=stale; fwd-status=304; stored")
            #expect(origin.seen.last?.header("if-none-match") == "\"v1\"")
            clock.advance(50)  // fresh for 100 s from the 304
            #expect(try await server.get("/r").header("cache-status")?.contains("hit") == true)
            #expect(origin.requests == 2)
        }
    }

    @Test func clientConditionalsAreAnsweredFromTheCache() async throws {
        try await Self.withCache(Self.reply("max-age=60", extra: [("etag", "\"abc\""), ("last-modified", "Mon, 01 Jan 2024 00:00:00 GMT")])) { origin, server, _ in
            _ = try await server.get("/c")
            let etag = try await server.get("/c", headers: ["If-None-Match": "W/\"abc\""])
            #expect(etag.status == 304)
            #expect(etag.body.isEmpty)
            #expect(etag.header("etag") == "\"abc\"")
            let date = try await server.get("/c", headers: ["If-Modified-Since": "Tue, 02 Jan 2024 00:00:00 GMT"])
            #expect(date.status == 304)
            let changed = try await server.get("/c", headers: ["If-None-Match": "\"other\""])
            #expect(changed.status == 200)
            #expect(origin.requests == 1)
            // The first client's conditional is not forwarded on a miss: the cache fetches the whole response.
            _ = try await server.get("/c2", headers: ["If-None-Match": "\"abc\""])
            #expect(origin.seen.last?.header("if-none-match") == nil)
        }
    }

    // MARK: Stale content (RFC 5861)

    @Test func staleWhileRevalidateServesStaleAndRefreshesOnceInTheBackground() async throws {
        let version = NIOLockedValueBox(1)
        try await Self.withCache({ _ in
            let v = version.withLockedValue { $0 }
            // The origin takes 2 s: stale answers that came before it had answered did not wait for it (a loaded machine
            // took 0.6 s for the ten when the origin took only 0.1 s, which was the old bound's margin).
            return .init(headers: [("cache-control", "max-age=10, stale-while-revalidate=60")], body: "v\(v)", delay: 2000)
        }) { origin, server, clock in
            _ = try await server.get("/s")
            version.withLockedValue { $0 = 2 }
            clock.advance(20)
            let started = ContinuousClock.now
            let results = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for _ in 0..<10 { group.addTask { try await server.get("/s") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(ContinuousClock.now - started < .milliseconds(1500))
            for r in results {
                #expect(r.text == "v1")
                #expect(r.header("cache-status")?.contains("detail=stale-while-revalidate") == true)
            }
            try await waitUntil { origin.requests == 2 }
            try await waitUntil(timeout: .seconds(15)) { try await server.get("/s").text == "v2" }
            #expect(origin.requests == 2, "the background refresh ran more than once")
        }
    }

    @Test func staleIfErrorServesTheStaleEntryWhenTheOriginFails() async throws {
        let failing = NIOLockedValueBox(false)
        try await Self.withCache({ _ in
            failing.withLockedValue { $0 }
                ? .init(status: 503, body: "down")
                : .init(headers: [("cache-control", "max-age=10, stale-if-error=60")], body: "good")
        }) { origin, server, clock in
            _ = try await server.get("/e")
            failing.withLockedValue { $0 = true }
            clock.advance(20)
            let stale = try await server.get("/e")
            #expect(stale.status == 200)
            #expect(stale.text == "good")
            #expect(stale.header("cache-status")?.contains("fwd-status=503") == true)
            #expect(stale.header("cache-status")?.contains("stale-if-error") == true)
            clock.advance(60)  // past the window: the error goes through
            #expect(try await server.get("/e").status == 503)
        }
    }

    @Test func staleIfErrorCoversAnOriginThatIsGone() async throws {
        let clock = TestClock()
        let origin = try await withOrigin(Self.reply("max-age=1, stale-if-error=60", body: "kept")) { origin in
            let server = try await TestServer.start(Self.yaml(origin), cacheClock: clock.reader)
            _ = try await server.get("/gone")
            return (server, origin.address)
        }
        // The origin has stopped: connections are refused (the proxy's 502).
        clock.advance(5)
        let r = try await origin.0.get("/gone")
        #expect(r.status == 200)
        #expect(r.text == "kept")
        #expect(r.header("cache-status")?.contains("fwd-status=502") == true)
        await origin.0.stop()
    }

    @Test func onlyIfCachedNeverReachesTheOrigin() async throws {
        try await Self.withCache(Self.reply("max-age=60")) { origin, server, _ in
            let miss = try await server.get("/o", headers: ["Cache-Control": "only-if-cached"])
            #expect(miss.status == 504)
            #expect(origin.requests == 0)
            _ = try await server.get("/o")
            #expect(try await server.get("/o", headers: ["Cache-Control": "only-if-cached"]).status == 200)
        }
    }

    @Test func requestNoCacheRevalidatesAndMaxAgeZeroForcesIt() async throws {
        try await Self.withCache(Self.reply("max-age=60", extra: [("etag", "\"e\"")])) { origin, server, clock in
            _ = try await server.get("/n")
            _ = try await server.get("/n", headers: ["Cache-Control": "no-cache"])
            #expect(origin.seen.last?.header("if-none-match") == "\"e\"")
            clock.advance(1)
            _ = try await server.get("/n", headers: ["Cache-Control": "max-age=0"])
            #expect(origin.requests == 3)
        }
    }

    // MARK: Methods

    @Test func unsafeMethodsInvalidateTheTargetAndItsLocation() async throws {
        try await Self.withCache({ seen in
            if seen.method == "POST" { return .init(status: 201, headers: [("location", "/items/7")], body: "") }
            return .init(headers: [("cache-control", "max-age=60")], body: "item")
        }) { origin, server, _ in
            _ = try await server.get("/items")
            _ = try await server.get("/items/7")
            _ = try await server.get("/items", method: "POST")
            try await waitUntil { try await server.get("/items").header("cache-status")?.contains("hit") == false }
            #expect(try await server.get("/items/7").header("cache-status")?.contains("hit") == false)
        }
    }

    @Test func headIsAnsweredFromAStoredGet() async throws {
        try await Self.withCache(Self.reply("max-age=60", body: "twelve bytes")) { origin, server, _ in
            _ = try await server.get("/h")
            let head = try await server.get("/h", method: "HEAD")
            #expect(head.status == 200)
            #expect(head.header("content-length") == "12")
            #expect(head.body.isEmpty)
            #expect(head.header("cache-status")?.contains("hit") == true)
            #expect(origin.requests == 1)
        }
    }

    @Test func rangesAreServedFromTheStoredFullResponse() async throws {
        try await Self.withCache(Self.reply("max-age=60", body: "0123456789", extra: [("etag", "\"r\"")])) { origin, server, _ in
            let first = try await server.get("/range", headers: ["Range": "bytes=2-4"])
            #expect(first.status == 206)
            #expect(first.text == "234")
            #expect(origin.seen.last?.header("range") == nil)  // the cache fetched the whole representation
            let second = try await server.get("/range", headers: ["Range": "bytes=-3"])
            #expect(second.status == 206)
            #expect(second.text == "789")
            #expect(second.header("content-range") == "bytes 7-9/10")
            #expect(try await server.get("/range", headers: ["Range": "bytes=50-"]).status == 416)
            #expect(try await server.get("/range", headers: ["Range": "bytes=0-1", "If-Range": "\"old\""]).status == 200)
            #expect(origin.requests == 1)
        }
    }

    // MARK: Bodies

    @Test func aStreamedBodyReachesTheFirstClientWhileItIsStored() async throws {
        let big = String(repeating: "x", count: 200_000)
        try await Self.withCache({ _ in
            var r = ScriptedOrigin.Reply(headers: [("cache-control", "max-age=60")], body: big)
            r.pieces = 4
            r.pieceDelay = 20
            return r
        }) { origin, server, _ in
            let first = try await server.get("/big")
            #expect(first.body.count == 200_000)
            try await waitUntil { try await server.get("/big").header("cache-status")?.contains("hit") == true }
            #expect(try await server.get("/big").body.count == 200_000)
            #expect(origin.requests == 1)
        }
    }

    @Test func aBodyPastMaxBodyStreamsThroughAndIsNotStored() async throws {
        let big = String(repeating: "y", count: 100_000)
        try await Self.withCache(stores: "cache: {max_body: 50KiB}", { _ in
            var r = ScriptedOrigin.Reply(headers: [("cache-control", "max-age=60")], body: big)
            r.pieces = 5
            return r
        }) { origin, server, _ in
            let first = try await server.get("/big")
            let second = try await server.get("/big")
            #expect(first.body.count == 100_000)
            #expect(second.body.count == 100_000)
            #expect(origin.requests == 2)
        }
    }

    // MARK: Coalescing in one instance

    @Test func concurrentMissesForOneKeyReachTheOriginOnce() async throws {
        try await Self.withCache({ _ in .init(headers: [("cache-control", "max-age=60")], body: "slow", delay: 300) }) { origin, server, _ in
            let results = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for _ in 0..<50 { group.addTask { try await server.get("/cold") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0.status == 200 && $0.text == "slow" })
            #expect(origin.requests == 1)
            #expect(results.filter { $0.header("cache-status")?.contains("collapsed") == true }.count >= 40)
        }
    }

    @Test func uncacheableResponsesAreNotQueuedBehindEachOther() async throws {
        try await Self.withCache({ _ in .init(headers: [("cache-control", "private")], body: "mine", delay: 200) }) { origin, server, _ in
            _ = try await server.get("/private")  // learns the URL is not cacheable
            let started = ContinuousClock.now
            _ = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for _ in 0..<5 { group.addTask { try await server.get("/private") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(ContinuousClock.now - started < .milliseconds(800))  // in parallel, not 5 x 200 ms
            #expect(origin.requests == 6)
        }
    }

    // MARK: Purge

    @Test func purgeMethodAndAdminAPIDropEntries() async throws {
        try await Self.withCache(
            stores: "cache: {purge: {method: true}}",
            Self.reply("max-age=60", extra: [("surrogate-key", "product-1 list")])
        ) { origin, server, _ in
            _ = try await server.get("/p1")
            _ = try await server.get("/p2")
            #expect(try await server.get("/p1").header("cache-status")?.contains("hit") == true)
            let purge = try await server.get("/p1", method: "PURGE")
            #expect(purge.status == 200)
            #expect(!origin.seen.contains { $0.method == "PURGE" }, "the PURGE reached the origin")
            #expect(try await server.get("/p1").header("cache-status")?.contains("hit") == false)
            #expect(try await server.get("/p2").header("cache-status")?.contains("hit") == true)
            let admin = try await RawClient.connect(port: server.adminPort!)
            let json = #"{"tag": "list"}"#
            try await admin.send("POST /cache/purge HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: \(json.utf8.count)\r\n\r\n\(json)")
            let answer = try await admin.readResponse()
            await admin.close()
            #expect(answer.status == 200)
            #expect(answer.text.contains("\"scope\":\"instance\""))
            #expect(try await server.get("/p2").header("cache-status")?.contains("hit") == false)
        }
    }

    @Test func thePurgeAPIRejectsWhatItCannotUse() async throws {
        try await Self.withCache(Self.reply("max-age=60")) { _, server, _ in
            for body in ["not json", #"{"bogus": 1}"#, #"{"url": "relative/path"}"#, #"{"tag": ""}"#, "{}"] {
                let admin = try await RawClient.connect(port: server.adminPort!)
                try await admin.send("POST /cache/purge HTTP/1.1\r\nHost: x\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")
                let r = try await admin.readResponse()
                await admin.close()
                #expect(r.status == 400, "\(body)")
            }
        }
    }
}
