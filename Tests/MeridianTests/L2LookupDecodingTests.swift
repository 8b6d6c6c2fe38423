import MeridianRedis
import NIOCore
import NIOHTTP1
import Testing

@testable import MeridianCache

/// What an L2 lookup's replies mean (``L2Store/lookup(_:variantKey:now:)``): `HMGET entry m k t u b` and, when
/// asked, the URL's vary marker. Pure; CacheTests and CacheClusterTests run the lookup against a real Redis.
@Suite struct L2LookupDecodingTests {
    static let now = 1_700_000_000.0
    static let metadata: CacheEntryMetadata = {
        let decision = StoragePolicy().decide(
            method: .GET, requestHeaders: HTTPHeaders(), status: 200,
            responseHeaders: HTTPHeaders([("Cache-Control", "max-age=60"), ("ETag", "\"v1\"")]),
            requestTime: now, responseTime: now)
        guard case .store(let entry) = decision else { fatalError("not storable: \(decision)") }
        return entry
    }()

    static func bulk(_ text: String) -> RedisValue { .bulk(ByteBuffer(string: text)) }

    /// The HMGET's reply for an entry stored at `stored` ms, usable until `until` ms, under `key`.
    static func entry(key: String = "GET http://h/p", stored: Int64 = 1_700_000_000_000, until: Int64, body: String? = "hello") -> RedisValue {
        .array([
            .bulk(ByteBuffer(bytes: metadata.encoded())), bulk(key), bulk(String(stored)), bulk(String(until)),
            body.map(bulk) ?? .null,
        ])
    }

    static let nothing: RedisValue = .array([.null, .null, .null, .null, .null])

    func decode(_ values: [RedisValue], key: String = "GET http://h/p") -> L2Store.Lookup? {
        L2Store.lookup(values, variantKey: key, now: Self.now)
    }

    @Test func anEntryUsableNowComesWithItsBody() {
        for until in [Int64(Self.now * 1000), Int64(Self.now * 1000) + 60_000] {  // `u == now` is still usable
            guard case .entry(let m, let storedAt, let body?)? = decode([Self.entry(until: until)]) else {
                Issue.record("not an entry with a body (until \(until))")
                continue
            }
            #expect(m == Self.metadata && storedAt == 1_700_000_000 && body == ByteBuffer(string: "hello"))
        }
    }

    @Test func anEntryPastItsUseComesWithoutItsBody() {
        guard case .entry(_, _, let body)? = decode([Self.entry(until: Int64(Self.now * 1000) - 1)]) else {
            Issue.record("not an entry")
            return
        }
        #expect(body == nil, "judged stale by this clock: revalidated, not served")
    }

    @Test func aHashCollisionOrBrokenFieldsAreAMiss() {
        let until = Int64(Self.now * 1000) + 60_000
        // Another URL with the same 64-bit hash: its full key is stored beside it.
        #expect(isMiss(decode([Self.entry(key: "GET http://h/other", until: until)])))
        #expect(isMiss(decode([Self.entry(key: "GET http://h/p", until: until)], key: "GET http://h/P")))
        // Metadata that does not decode, a stored time or usable-until that is not a number, a missing one.
        #expect(isMiss(decode([.array([Self.bulk("junk"), Self.bulk("GET http://h/p"), Self.bulk("1"), Self.bulk("2"), Self.bulk("b")])])))
        #expect(isMiss(decode([.array([.bulk(ByteBuffer(bytes: Self.metadata.encoded())), Self.bulk("GET http://h/p"), Self.bulk("x"), Self.bulk("2"), .null])])))
        #expect(isMiss(decode([.array([.bulk(ByteBuffer(bytes: Self.metadata.encoded())), Self.bulk("GET http://h/p"), Self.bulk("1"), .null, .null])])))
    }

    @Test func noEntryIsAMissOrTheURLsVaryMarker() {
        #expect(isMiss(decode([Self.nothing])))
        #expect(isMiss(decode([Self.nothing, .null])))
        guard case .vary(let fields)? = decode([Self.nothing, Self.bulk("accept-encoding,accept-language")]) else {
            Issue.record("not a vary marker")
            return
        }
        #expect(fields == ["accept-encoding", "accept-language"])
        guard case .vary(let none)? = decode([Self.nothing, Self.bulk("")]) else {
            Issue.record("an empty marker is a vary marker of no fields")
            return
        }
        #expect(none.isEmpty)
        // An entry wins over a marker read in the same round trip (a store between the two commands).
        guard case .entry? = decode([Self.entry(until: Int64(Self.now * 1000) + 1), Self.bulk("accept-encoding")]) else {
            Issue.record("not the entry")
            return
        }
    }

    @Test func errorRepliesAreRedisFailing() {
        // NOPERM for an ACL user, WRONGTYPE for a key some other program wrote: as if Redis were unreachable.
        #expect(decode([.error("NOPERM this user has no permissions to run the 'hmget' command")]) == nil)
        #expect(decode([.error("WRONGTYPE Operation against a key holding the wrong kind of value")]) == nil)
        #expect(decode([Self.nothing, .error("NOPERM no permissions to access one of the keys")]) == nil)
        #expect(decode([.array([.null])]) == nil, "not the five fields asked for")
    }

    func isMiss(_ lookup: L2Store.Lookup?) -> Bool {
        if case .miss? = lookup { return true }
        return false
    }
}
