import NIOHTTP1
import Testing

@testable import MeridianCache

private let now = 1_700_000_000.0

private func httpDate(_ epoch: Double) -> String {
    CacheFieldSyntax.formatDate(epoch)
}

/// Stores a 200 through the default policy, the request sent at `requestTime` and answered at `responseTime`.
private func store(
    _ response: [(String, String)], requestTime: Double = now, responseTime: Double = now,
    policy: StoragePolicy = StoragePolicy()
) throws -> CacheEntryMetadata {
    let decision = policy.decide(
        method: .GET, requestHeaders: HTTPHeaders(), status: 200, responseHeaders: HTTPHeaders(response),
        requestTime: requestTime, responseTime: responseTime)
    guard case .store(let entry) = decision else {
        Issue.record("not stored: \(decision)")
        throw CancellationError()
    }
    return entry
}

@Suite struct CacheEntryMetadataTests {
    @Test("RFC 9111 §4.2.3: corrected_age_value = Age + response_delay when larger than the apparent age")
    func upstreamAgePlusDelay() throws {
        let entry = try store(
            [("Date", httpDate(now)), ("Age", "10"), ("Cache-Control", "max-age=60")],
            requestTime: now - 2, responseTime: now)
        #expect(entry.correctedInitialAge == 12)
        #expect(!entry.headers.contains(name: "age"))
    }

    @Test("RFC 9111 §4.2.3: apparent_age = response_time − Date when larger than the corrected Age")
    func apparentAge() throws {
        let entry = try store(
            [("Date", httpDate(now - 100)), ("Age", "5"), ("Cache-Control", "max-age=600")],
            requestTime: now - 1, responseTime: now)
        #expect(entry.correctedInitialAge == 100)
    }

    @Test("RFC 9111 §5.1: an Age list keeps its first member; an invalid Age is ignored")
    func ageFieldParsing() throws {
        let list = try store([("Date", httpDate(now)), ("Age", "7, 9"), ("Cache-Control", "max-age=60")])
        #expect(list.correctedInitialAge == 7)
        let invalid = try store([("Date", httpDate(now)), ("Age", "-3"), ("Cache-Control", "max-age=60")])
        #expect(invalid.correctedInitialAge == 0)
    }

    @Test("RFC 9111 §4.2.3: current_age = corrected_initial_age + resident_time")
    func residentTime() throws {
        let entry = try store([("Date", httpDate(now)), ("Age", "10"), ("Cache-Control", "max-age=60")])
        #expect(entry.currentAge(now: now + 25.5) == 35.5)
        #expect(entry.currentAge(now: now - 30) == 10)  // a clock behind responseTime adds no negative residence
    }

    @Test("RFC 9111 §4.2: fresh while freshness_lifetime > current_age; staleness after")
    func freshnessBoundary() throws {
        let entry = try store([("Date", httpDate(now)), ("Cache-Control", "max-age=60")])
        #expect(entry.isFresh(now: now + 59.9))
        #expect(!entry.isFresh(now: now + 60))
        #expect(entry.staleness(now: now + 30) == 0)
        #expect(entry.staleness(now: now + 75) == 15)
        #expect(entry.timeToLive(now: now + 75) == -15)
    }

    @Test("RFC 9111 §5.1, §1.2.2: Age is whole seconds, capped at 2147483648")
    func ageHeaderValue() throws {
        let entry = try store([("Date", httpDate(now)), ("Age", "2"), ("Cache-Control", "max-age=60")])
        #expect(entry.ageHeaderValue(now: now + 3.99) == "5")
        #expect(entry.ageHeaderValue(now: now + 1e12) == "2147483648")
    }

    @Test("RFC 5861: retention covers freshness, the usable stale window and keep (for an entry with a validator)")
    func retention() throws {
        let entry = try store([
            ("Date", httpDate(now - 10)), ("ETag", "\"e\""),
            ("Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=120"),
        ])
        #expect(entry.expiresAfter == 50 + 120)
        #expect(entry.retention(keep: 10) == 50 + 120 + 10)
        let noValidator = try store([("Date", httpDate(now)), ("Cache-Control", "max-age=60, stale-if-error=120")])
        #expect(noValidator.retention(keep: 300) == 180)
        let forbidden = try store([
            ("Date", httpDate(now)), ("ETag", "\"a\""),
            ("Cache-Control", "max-age=60, must-revalidate, stale-if-error=120"),
        ])
        #expect(forbidden.retention(keep: 5) == 65)
    }

    @Test("RFC 9111 §4.3.4: a 304 updates stored fields in place, adds new ones, never Content-Length")
    func freshenedFields() throws {
        let entry = try store([
            ("Date", httpDate(now)), ("Cache-Control", "max-age=60"), ("ETag", "\"v1\""), ("Content-Type", "text/html"),
            ("Content-Length", "10"), ("X-Old", "1"), ("X-Old", "2"),
        ])
        let notModified = HTTPHeaders([
            ("Date", httpDate(now + 100)), ("Cache-Control", "max-age=300"), ("X-Old", "3"), ("X-New", "n"),
            ("Content-Length", "0"), ("Connection", "close"), ("Set-Cookie", "s=1"), ("Age", "4"),
        ])
        let fresh = entry.freshened(
            with: notModified, requestTime: now + 99, responseTime: now + 100, policy: StoragePolicy())
        let names = ["Date", "Cache-Control", "ETag", "Content-Type", "Content-Length", "X-Old", "X-New"]
        #expect(fresh.headers.map(\.name) == names)
        #expect(fresh.headers["date"] == [httpDate(now + 100)])
        #expect(fresh.headers["x-old"] == ["3"])
        #expect(fresh.headers["content-length"] == ["10"])
        #expect(fresh.freshnessLifetime == 300)
        #expect(fresh.control.maxAge == 300)
        #expect(fresh.correctedInitialAge == 5)  // Age 4 + 1 s response delay
        #expect(fresh.responseTime == now + 100)
        #expect(fresh.isFresh(now: now + 200))
        #expect(!entry.isFresh(now: now + 200))
    }

    @Test("RFC 9110 §6.6.1: a 304 without Date is dated by its arrival, so the old Date does not age the entry")
    func freshenedWithoutDate() throws {
        let entry = try store([("Date", httpDate(now)), ("Cache-Control", "max-age=60"), ("ETag", "\"v1\"")])
        let fresh = entry.freshened(with: [:], requestTime: now + 500, responseTime: now + 500, policy: StoragePolicy())
        #expect(fresh.headers["date"] == [httpDate(now + 500)])
        #expect(fresh.correctedInitialAge == 0)
        #expect(fresh.isFresh(now: now + 530))
    }

    @Test("RFC 9111 §4.3.4: freshening updates validators, tags, qualified private stripping")
    func freshenedDerivedFacts() throws {
        let entry = try store([
            ("Date", httpDate(now)), ("Cache-Control", "max-age=60"), ("ETag", "\"v1\""), ("Surrogate-Key", "a"),
        ])
        let fresh = entry.freshened(
            with: HTTPHeaders([
                ("ETag", "\"v2\""), ("Surrogate-Key", "b c"), ("Cache-Control", "max-age=10, private=\"x-secret\""),
                ("X-Secret", "1"), ("Vary", "Accept-Language"),
            ]),
            requestTime: now + 10, responseTime: now + 10, policy: StoragePolicy())
        #expect(fresh.etag == "\"v2\"")
        #expect(fresh.tags == ["b", "c"])
        #expect(!fresh.headers.contains(name: "surrogate-key"))
        #expect(!fresh.headers.contains(name: "x-secret"))
        #expect(fresh.varyFields == ["accept-language"])
        let untagged = entry.freshened(with: [:], requestTime: now, responseTime: now, policy: StoragePolicy())
        #expect(untagged.tags == ["a"])
    }

    @Test("Metadata round-trips through encoded()/init(decoding:) with header order, duplicates and Unicode")
    func roundTrip() throws {
        var entry = try store(
            [
                ("Date", httpDate(now)), ("Cache-Control", "max-age=60, no-cache=\"x-a\", stale-if-error=5"),
                ("Set-Cookie", "dropped"), ("X-Dup", "1"), ("Content-Type", "text/plain; charset=utf-8"),
                ("X-Dup", "2"), ("X-Unicode", "naïve — 日本語 🚀"), ("ETag", "W/\"é\""), ("Vary", "Accept-Encoding"),
                ("Surrogate-Key", "t1 t2"), ("Content-Length", "42"),
            ], requestTime: now - 0.25)
        entry.control.maxStale = .seconds(3)
        entry.control.onlyIfCached = true
        entry.isHeuristic = true
        let decoded = try #require(CacheEntryMetadata(decoding: entry.encoded()))
        #expect(decoded == entry)
        #expect(decoded.headers.map { "\($0.name): \($0.value)" } == entry.headers.map { "\($0.name): \($0.value)" })
        #expect(decoded.headers["x-unicode"] == ["naïve — 日本語 🚀"])
        #expect(decoded.requestTime == now - 0.25)
        #expect(decoded.tags == ["t1", "t2"])
        #expect(decoded.bodyLength == 42)

        var bare = entry
        bare.etag = nil
        bare.lastModified = nil
        bare.bodyLength = nil
        bare.control = CacheControl()
        bare.control.maxStale = .any
        #expect(CacheEntryMetadata(decoding: bare.encoded()) == bare)
    }

    @Test("Decoding rejects truncated, extended and foreign bytes without crashing")
    func decodingRejectsGarbage() throws {
        let entry = try store([("Date", httpDate(now)), ("Cache-Control", "max-age=60"), ("X-A", "b")])
        let bytes = entry.encoded()
        for length in 0..<bytes.count {
            #expect(CacheEntryMetadata(decoding: Array(bytes.prefix(length))) == nil)
        }
        #expect(CacheEntryMetadata(decoding: bytes + [0]) == nil)
        var wrongVersion = bytes
        wrongVersion[2] = 2
        #expect(CacheEntryMetadata(decoding: wrongVersion) == nil)
        #expect(CacheEntryMetadata(decoding: Array("{\"status\":200}".utf8)) == nil)
        #expect(CacheEntryMetadata(decoding: [0x4D, 0x43, 1] + [UInt8](repeating: 0xFF, count: 20)) == nil)
    }

    @Test("Decoding rejects invalid UTF-8 in a string, whatever its length (ASCII strings take a fast path)")
    func decodingRejectsInvalidUTF8() throws {
        let entry = try store([("Date", httpDate(now)), ("Cache-Control", "max-age=60"), ("X-A", "wxyz")])
        let bytes = entry.encoded()
        let at = try #require((0..<bytes.count - 3).first { Array(bytes[$0..<$0 + 4]) == Array("wxyz".utf8) })
        // A lone continuation byte, a lead byte without its continuation, a 4-byte sequence cut to 3 (which a
        // repairing decoder turns into one 3-byte U+FFFD: the same length), and an overlong encoding.
        for bad: [UInt8] in [[0x80, 0x78, 0x79, 0x7A], [0xC3, 0x78, 0x79, 0x7A], [0xF0, 0x9F, 0x98, 0x7A], [0xC0, 0xAF, 0x79, 0x7A]] {
            var corrupt = bytes
            corrupt.replaceSubrange(at..<at + 4, with: bad)
            #expect(CacheEntryMetadata(decoding: corrupt) == nil, "\(bad)")
        }
        var valid = bytes
        valid.replaceSubrange(at..<at + 4, with: [0xC3, 0xA9, 0x79, 0x7A])  // "éyz", still four bytes
        #expect(CacheEntryMetadata(decoding: valid)?.headers.first(name: "x-a") == "éyz")
    }
}
