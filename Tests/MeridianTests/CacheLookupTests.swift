import NIOHTTP1
import Testing

@testable import MeridianCache

private let stored = 1_700_000_000.0

/// An entry received at `stored`, already `initialAge` old, fresh for `lifetime` seconds.
private func entry(
    lifetime: Double = 60, initialAge: Double = 0, cacheControl: String = "", etag: String? = nil,
    lastModified: String? = nil
) -> CacheEntryMetadata {
    CacheEntryMetadata(
        status: 200, headers: HTTPHeaders([("Cache-Control", cacheControl)]), requestTime: stored,
        responseTime: stored, correctedInitialAge: initialAge, freshnessLifetime: lifetime, isHeuristic: false,
        control: CacheControl([cacheControl]), varyFields: [], etag: etag, lastModified: lastModified, tags: [],
        bodyLength: nil)
}

/// The action for a request with `request` fields, `age` seconds after the entry was received.
private func action(
    _ entry: CacheEntryMetadata, _ request: [(String, String)] = [], at age: Double, swr: Bool = true
) -> CacheLookup.Action {
    CacheLookup.evaluate(
        entry: entry, requestHeaders: HTTPHeaders(request), now: stored + age, serveStaleWhileRevalidate: swr)
}

private let lastModified = "Tue, 14 Nov 2023 00:00:00 GMT"

/// Revalidation of an entry whose ETag is `"a"`.
private let validateA = CacheLookup.Action.revalidate(conditionalHeaders: ["If-None-Match": "\"a\""])

@Suite struct CacheLookupTests {
    @Test("RFC 9111 §4.2: a fresh response is served")
    func fresh() {
        #expect(action(entry(), at: 59) == .fresh)
        #expect(action(entry(initialAge: 30), at: 29) == .fresh)
    }

    @Test("RFC 9111 §4.3.1: a stale response is validated with If-None-Match and/or If-Modified-Since")
    func revalidation() {
        #expect(
            action(entry(etag: "W/\"v1\""), at: 60) == .revalidate(conditionalHeaders: ["If-None-Match": "W/\"v1\""]))
        #expect(
            action(entry(lastModified: lastModified), at: 60)
                == .revalidate(conditionalHeaders: ["If-Modified-Since": lastModified]))
        guard case .revalidate(let both) = action(entry(etag: "\"a\"", lastModified: lastModified), at: 61) else {
            Issue.record("expected revalidate")
            return
        }
        #expect(both.map(\.name) == ["If-None-Match", "If-Modified-Since"])
        #expect(action(entry(lastModified: "yesterday"), at: 60) == .mustForward)
    }

    @Test("RFC 9111 §4: a stale response without validators must be forwarded")
    func mustForward() {
        #expect(action(entry(), at: 60) == .mustForward)
        #expect(action(entry(initialAge: 61), at: 0) == .mustForward)
    }

    @Test("RFC 9111 §5.2.1.1: request max-age bounds the age, inclusively")
    func requestMaxAge() {
        let e = entry(etag: "\"a\"")
        #expect(action(e, [("Cache-Control", "max-age=30")], at: 30) == .fresh)
        #expect(action(e, [("Cache-Control", "max-age=30")], at: 30.5) == validateA)
        #expect(action(e, [("Cache-Control", "max-age=0")], at: 0.5) != .fresh)
    }

    @Test("RFC 9111 §5.2.1.3: min-fresh requires the response to stay fresh that much longer")
    func minFresh() {
        let e = entry()
        #expect(action(e, [("Cache-Control", "min-fresh=30")], at: 30) == .fresh)
        #expect(action(e, [("Cache-Control", "min-fresh=31")], at: 30) == .mustForward)
        #expect(
            action(entry(cacheControl: "stale-while-revalidate=60"), [("Cache-Control", "min-fresh=1")], at: 61)
                == .mustForward)
    }

    @Test("RFC 9111 §5.2.1.2: max-stale without a value accepts any staleness")
    func maxStaleAny() {
        #expect(action(entry(), [("Cache-Control", "max-stale")], at: 100_000) == .fresh)
    }

    @Test("RFC 9111 §5.2.1.2: max-stale=N accepts at most N seconds of staleness")
    func maxStaleSeconds() {
        let e = entry(etag: "\"a\"")
        #expect(action(e, [("Cache-Control", "max-stale=10")], at: 70) == .fresh)
        #expect(action(e, [("Cache-Control", "max-stale=10")], at: 70.5) != .fresh)
        #expect(action(e, [("Cache-Control", "max-stale=100, max-age=65")], at: 70) != .fresh)
    }

    @Test(
        "RFC 9111 §4.2.4, §5.2.2.2, §5.2.2.8, §5.2.2.10: must-revalidate, proxy-revalidate, s-maxage forbid stale",
        arguments: ["must-revalidate", "proxy-revalidate", "s-maxage=60"]
    )
    func staleForbidden(directive: String) {
        let e = entry(cacheControl: directive + ", stale-while-revalidate=600", etag: "\"a\"")
        #expect(action(e, [("Cache-Control", "max-stale")], at: 61) == validateA)
        #expect(action(e, at: 61) == validateA)
        #expect(action(e, at: 59) == .fresh)
    }

    @Test("RFC 9111 §5.2.1.4: request no-cache revalidates even a fresh response")
    func requestNoCache() {
        let e = entry(etag: "\"a\"")
        #expect(action(e, [("Cache-Control", "no-cache")], at: 1) == validateA)
        #expect(action(entry(), [("Cache-Control", "no-cache")], at: 1) == .mustForward)
    }

    @Test("RFC 9111 §5.4: Pragma: no-cache acts as no-cache only without Cache-Control")
    func pragma() {
        let e = entry(etag: "\"a\"")
        #expect(action(e, [("Pragma", "No-Cache")], at: 1) == validateA)
        #expect(action(e, [("Pragma", "no-cache"), ("Cache-Control", "max-age=60")], at: 1) == .fresh)
        #expect(action(e, [("Pragma", "x-other")], at: 1) == .fresh)
    }

    @Test("RFC 9111 §5.2.2.4: response no-cache always revalidates; a qualified one does not")
    func responseNoCache() {
        #expect(action(entry(cacheControl: "no-cache", etag: "\"a\""), at: 1) == validateA)
        #expect(action(entry(cacheControl: "no-cache=\"x-a\"", etag: "\"a\""), at: 1) == .fresh)
    }

    @Test("RFC 5861 §3: stale-while-revalidate serves stale within the window, edges included")
    func staleWhileRevalidateWindow() {
        let e = entry(cacheControl: "max-age=60, stale-while-revalidate=30", etag: "\"a\"")
        #expect(action(e, at: 59) == .fresh)
        #expect(action(e, at: 60) == .staleWhileRevalidate)
        #expect(action(e, at: 90) == .staleWhileRevalidate)
        #expect(action(e, at: 90.01) == validateA)
        #expect(action(e, at: 60, swr: false) == validateA)
    }

    @Test("RFC 5861 §3, RFC 9111 §5.2.1.1: the request's max-age and no-cache rule out stale-while-revalidate")
    func staleWhileRevalidateRequestLimits() {
        let e = entry(cacheControl: "max-age=60, stale-while-revalidate=30")
        #expect(action(e, [("Cache-Control", "max-age=0")], at: 61) == .mustForward)
        #expect(action(e, [("Cache-Control", "no-cache")], at: 61) == .mustForward)
        #expect(action(e, [("Cache-Control", "max-age=100")], at: 61) == .staleWhileRevalidate)
    }

    @Test("RFC 9111 §5.2.1.7: only-if-cached serves what it can and never forwards")
    func onlyIfCached() {
        let onlyIfCached = [("Cache-Control", "only-if-cached")]
        #expect(action(entry(etag: "\"a\""), onlyIfCached, at: 10) == .fresh)
        #expect(action(entry(etag: "\"a\""), onlyIfCached, at: 61) == .unsatisfiableOnlyIfCached)
        #expect(action(entry(), onlyIfCached, at: 61) == .unsatisfiableOnlyIfCached)
        #expect(action(entry(), [("Cache-Control", "only-if-cached, max-stale=5")], at: 62) == .fresh)
        #expect(action(entry(), [("Cache-Control", "only-if-cached, no-cache")], at: 1) == .unsatisfiableOnlyIfCached)
        #expect(action(entry(cacheControl: "stale-while-revalidate=9"), onlyIfCached, at: 61) == .staleWhileRevalidate)
    }

    @Test("RFC 5861 §4: the response's stale-if-error window, edges included")
    func staleIfErrorResponse() {
        let e = entry(cacheControl: "max-age=60, stale-if-error=120")
        #expect(CacheLookup.mayServeStaleOnError(entry: e, requestHeaders: HTTPHeaders(), now: stored + 180))
        #expect(!CacheLookup.mayServeStaleOnError(entry: e, requestHeaders: HTTPHeaders(), now: stored + 180.5))
        #expect(!CacheLookup.mayServeStaleOnError(entry: entry(), requestHeaders: HTTPHeaders(), now: stored + 61))
    }

    @Test("RFC 5861 §4: the request's stale-if-error and max-stale allow stale on error")
    func staleIfErrorRequest() {
        let e = entry()
        let window: HTTPHeaders = ["Cache-Control": "stale-if-error=30"]
        #expect(CacheLookup.mayServeStaleOnError(entry: e, requestHeaders: window, now: stored + 90))
        #expect(!CacheLookup.mayServeStaleOnError(entry: e, requestHeaders: window, now: stored + 91))
        let maxStale: HTTPHeaders = ["Cache-Control": "max-stale=10"]
        #expect(CacheLookup.mayServeStaleOnError(entry: e, requestHeaders: maxStale, now: stored + 70))
        #expect(!CacheLookup.mayServeStaleOnError(entry: e, requestHeaders: maxStale, now: stored + 71))
        let anyStale: HTTPHeaders = ["Cache-Control": "max-stale"]
        #expect(CacheLookup.mayServeStaleOnError(entry: e, requestHeaders: anyStale, now: stored + 1e6))
    }

    @Test(
        "RFC 9111 §4.2.4: no stale-if-error when the response forbids stale or the request asks for no-cache",
        arguments: ["must-revalidate", "proxy-revalidate", "s-maxage=60", "no-cache"]
    )
    func staleIfErrorForbidden(directive: String) {
        let e = entry(cacheControl: "stale-if-error=600, " + directive)
        #expect(!CacheLookup.mayServeStaleOnError(entry: e, requestHeaders: HTTPHeaders(), now: stored + 61))
        let allowed = entry(cacheControl: "stale-if-error=600")
        #expect(CacheLookup.mayServeStaleOnError(entry: allowed, requestHeaders: HTTPHeaders(), now: stored + 61))
        #expect(
            !CacheLookup.mayServeStaleOnError(
                entry: allowed, requestHeaders: ["Cache-Control": "no-cache"] as HTTPHeaders, now: stored + 61))
    }

    @Test("RFC 5861 §4: 500, 502, 503 and 504 are the errors stale-if-error covers")
    func errorStatuses() {
        #expect([500, 502, 503, 504].allSatisfy(CacheLookup.isError))
        #expect(![200, 304, 404, 501, 505].contains(where: CacheLookup.isError))
    }
}
