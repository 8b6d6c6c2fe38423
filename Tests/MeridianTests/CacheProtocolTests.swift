import Foundation
import NIOConcurrencyHelpers
import Testing

/// The cache with the rest of a route: HTTP/2 clients, compression inside it (one variant per coding), the proxy's
/// breaker, the access log.
@Suite(.serialized)
struct CacheProtocolTests {
    static let text = String(repeating: "The cache keeps one variant per coding. ", count: 40)

    @Test func http2ClientsGetHitsAndTheSameBytes() async throws {
        let clock = CacheTests.TestClock()
        try await withOrigin(CacheTests.reply("max-age=60", body: "over h2")) { origin in
            let yaml = "listeners: [{name: http, address: \"127.0.0.1:0\", http2: {h2c: true}}]\n" + CacheTests.yaml(origin)
            try await withTestServer(yaml, cacheClock: clock.reader) { server in
            let base = "http://127.0.0.1:\(server.port)/h2"
            let (_, first) = try await Subprocess.run("curl", ["-s", "-i", "--http2-prior-knowledge", base])
            let (_, second) = try await Subprocess.run("curl", ["-s", "-i", "--http2-prior-knowledge", base])
            #expect(first.hasPrefix("HTTP/2 200") && first.hasSuffix("over h2"))
            #expect(second.hasPrefix("HTTP/2 200") && second.hasSuffix("over h2"))
            #expect(second.contains("cache-status: meridian-l1; hit"), "\(second)")
            #expect(second.contains("age: 0"))
            #expect(origin.requests == 1)
            }
        }
    }

    /// Compression runs inside the cache: each coding is a variant under `Vary: Accept-Encoding`, compressed once.
    @Test func compressedVariantsAreStoredOncePerCoding() async throws {
        let clock = CacheTests.TestClock()
        try await withOrigin({ _ in .init(headers: [("cache-control", "max-age=60"), ("content-type", "text/plain")], body: Self.text) }) { origin in
            let yaml = "compression: on\n" + CacheTests.yaml(origin)
            try await withTestServer(yaml, cacheClock: clock.reader) { server in
            for coding in ["gzip", "br", "identity", "gzip, br", "gzip;q=1, br;q=0.5"] {
                _ = try await server.get("/z", headers: ["Accept-Encoding": coding])
            }
            let gzip = try await server.get("/z", headers: ["Accept-Encoding": "gzip"])
            let br = try await server.get("/z", headers: ["Accept-Encoding": "br"])
            let plain = try await server.get("/z")
            #expect(gzip.header("content-encoding") == "gzip" && gzip.header("cache-status")?.contains("hit") == true)
            #expect(br.header("content-encoding") == "br" && br.header("cache-status")?.contains("hit") == true)
            #expect(plain.header("content-encoding") == nil && plain.text == Self.text)
            let expected: [UInt8] = Array(Self.text.utf8)
            #expect(try Decompressors.gunzip(gzip.body).bytes == expected)
            #expect(gzip.header("vary")?.lowercased().contains("accept-encoding") == true)
            // Five differently written Accept-Encodings, three codings: three origin requests.
            #expect(origin.requests == 3)
            let stats = server.app.cacheStats
            #expect(stats.lookups(.l1, .hit) >= 4)
            }
        }
    }

    /// The breaker is open (the proxy answers 503 itself): a stale entry within stale-if-error is served instead.
    @Test func anOpenBreakerServesStaleWithinStaleIfError() async throws {
        let failing = NIOLockedValueBox(false)
        try await CacheTests.withCache(
            breaker: "{minimum_requests: 2, failure_ratio: 0.5, open_for: 60s, max_probes: 1}",
            { seen in
                if seen.uri.hasPrefix("/fail") || failing.withLockedValue({ $0 }) { return .init(status: 500, body: "broken") }
                return .init(headers: [("cache-control", "max-age=10, stale-if-error=300")], body: "still good")
            }
        ) { origin, server, clock in
            _ = try await server.get("/kept")
            failing.withLockedValue { $0 = true }
            for _ in 0..<4 { _ = try await server.get("/fail\(Int.random(in: 0...1000))") }
            let before = origin.requests
            clock.advance(30)
            let r = try await server.get("/kept")
            #expect(r.status == 200)
            #expect(r.text == "still good")
            #expect(r.header("cache-status")?.contains("detail=stale-if-error") == true, "\(r.header("cache-status") ?? "")")
            #expect(r.header("cache-status")?.contains("fwd-status=503") == true, "the breaker was not open")
            #expect(origin.requests == before)
        }
    }

    @Test func theAccessLogCarriesTheCacheResult() async throws {
        try await CacheTests.withCache(
            stores: "telemetry: {access_log: {path: \"{{root}}/access.log\"}}", CacheTests.reply("max-age=60")
        ) { origin, server, _ in
            _ = try await server.get("/log")
            _ = try await server.get("/log")
            let lines = try await TelemetryTests.waitForLines(server.directory.appendingPathComponent("access.log"), count: 2)
            #expect(lines[0]["cache"] as? String == "miss", "\(lines[0])")
            #expect(lines[1]["cache"] as? String == "hit-l1", "\(lines[1])")
        }
    }

    /// `/metrics` has the cache's families, per route.
    @Test func metricsCountLookupsPerRouteAndTier() async throws {
        try await CacheTests.withCache(CacheTests.reply("max-age=60")) { _, server, _ in
            _ = try await server.get("/m")
            _ = try await server.get("/m")
            let admin = try await RawClient.connect(port: server.adminPort!)
            try await admin.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            let metrics = try await admin.readResponse().text
            await admin.close()
            #expect(metrics.contains("meridian_cache_lookups_total{route=\"/\",tier=\"l1\",result=\"hit\"} 1"), "\(metrics)")
            #expect(metrics.contains("meridian_cache_lookups_total{route=\"/\",tier=\"l1\",result=\"miss\"} 1"))
            #expect(metrics.contains("meridian_cache_l1_entries 1"))
        }
    }

    /// `/status.json`'s cache section (the status page's cache card reads it).
    @Test func theStatusDocumentHasTheCacheCard() async throws {
        try await CacheTests.withCache(CacheTests.reply("max-age=60")) { _, server, _ in
            _ = try await server.get("/st")
            _ = try await server.get("/st")
            _ = try await server.get("/st")
            let admin = try await RawClient.connect(port: server.adminPort!)
            try await admin.send("GET /status.json HTTP/1.1\r\nHost: x\r\n\r\n")
            let text = try await admin.readResponse().text
            await admin.close()
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            let cache = try #require(doc["cache"] as? [String: Any], "\(text)")
            let l1 = try #require(cache["l1"] as? [String: Any])
            #expect(l1["hits"] as? Int == 2 && l1["misses"] as? Int == 1)
            #expect(cache["l2"] is NSNull || cache["l2"] == nil)
            let routes = try #require(cache["routes"] as? [[String: Any]])
            #expect(routes.first?["route"] as? String == "/" && routes.first?["l1_hits"] as? Int == 2)
        }
    }
}
