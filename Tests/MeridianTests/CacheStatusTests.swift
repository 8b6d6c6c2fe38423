import Testing

@testable import MeridianCache

@Suite struct CacheStatusTests {
    @Test("RFC 9211 §2.1, §2.4: a hit with its remaining ttl")
    func hit() {
        #expect(CacheStatus(cache: "meridian-l1", hit: true, ttl: 58).fieldValue == "meridian-l1; hit; ttl=58")
    }

    @Test("RFC 9211 §2.2–§2.6: forward reason, forward status, stored and collapsed, in that order")
    func forwarded() {
        let status = CacheStatus(
            cache: "meridian-l2", forward: .uriMiss, forwardStatus: 200, stored: true, collapsed: true)
        #expect(status.fieldValue == "meridian-l2; fwd=uri-miss; fwd-status=200; stored; collapsed")
    }

    @Test("RFC 9211 §2.4: ttl is negative once stale")
    func negativeTTL() {
        let status = CacheStatus(cache: "meridian-l1", hit: true, forward: nil, ttl: -12)
        #expect(status.fieldValue == "meridian-l1; hit; ttl=-12")
        #expect(CacheStatus(cache: "c", ttl: Int.max).fieldValue == "c; ttl=999999999999999")
    }

    @Test("RFC 9211 §2.8: detail is a token when it is one")
    func detailToken() {
        #expect(
            CacheStatus(cache: "meridian-l2", forward: .miss, detail: "unavailable").fieldValue
                == "meridian-l2; fwd=miss; detail=unavailable")
        #expect(
            CacheStatus(cache: "meridian-l2", forward: .bypass, detail: NotStoredReason.varyStar.text).fieldValue
                == "meridian-l2; fwd=bypass; detail=vary-star")
    }

    @Test("RFC 8941 §3.3.3: a detail that is not a token is a string, with \\ and \" escaped")
    func detailString() {
        #expect(CacheStatus(cache: "c", detail: "redis down").fieldValue == "c; detail=\"redis down\"")
        #expect(CacheStatus(cache: "c", detail: "a\"b\\c").fieldValue == "c; detail=\"a\\\"b\\\\c\"")
        #expect(CacheStatus(cache: "c", detail: "1abc").fieldValue == "c; detail=\"1abc\"")
    }

    @Test("RFC 9211 §2.7: key is always a string; non-ASCII and controls become ?")
    func key() {
        let status = CacheStatus(cache: "meridian-l1", hit: true, key: "GET https://ex.com/é?a=1\u{1F}x")
        #expect(status.fieldValue == "meridian-l1; hit; key=\"GET https://ex.com/??a=1?x\"")
    }

    @Test("RFC 9211 §2: a cache name that is not a token is serialised as a string")
    func cacheName() {
        #expect(CacheStatus(cache: "my cache", hit: true).fieldValue == "\"my cache\"; hit")
        #expect(CacheStatus(cache: "Example/Cache:1").fieldValue == "Example/Cache:1")
    }

    @Test("RFC 9211 §2.2: every forward reason has its registered token")
    func forwardTokens() {
        #expect(
            CacheStatus.Forward.allCases.map(\.rawValue)
                == ["bypass", "method", "uri-miss", "vary-miss", "miss", "request", "stale", "partial"])
    }

    @Test("RFC 9211 §2: members are joined into one list in the given order")
    func join() {
        let joined = CacheStatus.join([
            CacheStatus(cache: "meridian-l2", forward: .stale, forwardStatus: 304, ttl: 60, stored: true),
            CacheStatus(cache: "meridian-l1", forward: .uriMiss, stored: true),
        ])
        #expect(joined == "meridian-l2; fwd=stale; fwd-status=304; ttl=60; stored, meridian-l1; fwd=uri-miss; stored")
        #expect(CacheStatus.join([]) == "")
    }
}
