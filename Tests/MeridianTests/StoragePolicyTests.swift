import NIOHTTP1
import Testing

@testable import MeridianCache

private let now = 1_700_000_000.0

private func httpDate(_ epoch: Double) -> String {
    CacheFieldSyntax.formatDate(epoch)
}

private func decide(
    _ policy: StoragePolicy = StoragePolicy(),
    method: HTTPMethod = .GET,
    request: [(String, String)] = [],
    status: Int = 200,
    response: [(String, String)]
) -> StorageDecision {
    policy.decide(
        method: method, requestHeaders: HTTPHeaders(request), status: status, responseHeaders: HTTPHeaders(response),
        requestTime: now - 1, responseTime: now)
}

private func stored(
    _ policy: StoragePolicy = StoragePolicy(),
    request: [(String, String)] = [],
    status: Int = 200,
    response: [(String, String)]
) -> CacheEntryMetadata? {
    guard case .store(let entry) = decide(policy, request: request, status: status, response: response) else {
        return nil
    }
    return entry
}

private func reason(
    _ policy: StoragePolicy = StoragePolicy(),
    method: HTTPMethod = .GET,
    request: [(String, String)] = [],
    status: Int = 200,
    response: [(String, String)]
) -> NotStoredReason? {
    let decision = decide(policy, method: method, request: request, status: status, response: response)
    guard case .doNotStore(let reason) = decision
    else { return nil }
    return reason
}

private func policy(
    defaultTTL: Double? = nil, overrideTTL: Double? = nil, storeSetCookie: Bool = false, maxTTL: Double = 31_536_000,
    tagField: String = "surrogate-key"
) -> StoragePolicy {
    StoragePolicy(
        configuration: .init(
            defaultTTL: defaultTTL, overrideTTL: overrideTTL, storeSetCookie: storeSetCookie,
            maxTTL: maxTTL, tagField: tagField))
}

@Suite struct StoragePolicyTests {
    @Test("RFC 9111 §3: a 200 to GET with max-age is stored with that lifetime")
    func storesFresh() throws {
        let entry = try #require(stored(response: [("Date", httpDate(now)), ("Cache-Control", "max-age=60")]))
        #expect(entry.status == 200)
        #expect(entry.freshnessLifetime == 60)
        #expect(!entry.isHeuristic)
        #expect(entry.control.maxAge == 60)
    }

    @Test(
        "RFC 9111 §3: only GET is stored; HEAD is answered from GET entries",
        arguments: [
            HTTPMethod.HEAD, .POST, .PUT, .DELETE, .OPTIONS, .RAW(value: "PURGE"),
        ])
    func methods(method: HTTPMethod) {
        #expect(reason(method: method, response: [("Cache-Control", "max-age=60")]) == .method)
    }

    @Test("RFC 9111 §3: the status must be final", arguments: [100, 101, 199, 600, 0, -1])
    func nonFinalStatus(status: Int) {
        #expect(reason(status: status, response: [("Cache-Control", "max-age=60")]) == .status)
    }

    @Test("RFC 9111 §3, §3.3: 206 and 304 are never stored as entries")
    func partialAndNotModified() {
        #expect(reason(status: 206, response: [("Cache-Control", "max-age=60")]) == .partialContent)
        #expect(reason(status: 304, response: [("Cache-Control", "max-age=60")]) == .notModified)
    }

    @Test("RFC 9111 §5.2.1.5, §5.2.2.5: no-store in the request or the response prevents storing")
    func noStore() {
        #expect(
            reason(request: [("Cache-Control", "no-store")], response: [("Cache-Control", "max-age=60")])
                == .requestNoStore)
        #expect(reason(response: [("Cache-Control", "max-age=60, no-store")]) == .noStore)
    }

    @Test("RFC 9111 §5.2.2.3: must-understand overrides no-store for an understood status code only")
    func mustUnderstand() {
        let response = [("Cache-Control", "max-age=60, no-store, must-understand")]
        #expect(stored(response: response) != nil)
        #expect(reason(status: 299, response: response) == .mustUnderstand)
        #expect(reason(status: 418, response: response) == .mustUnderstand)
    }

    @Test("RFC 9111 §5.2.2.7: unqualified private is never stored by a shared cache")
    func privateResponse() {
        #expect(reason(response: [("Cache-Control", "private, max-age=60")]) == .privateResponse)
        #expect(reason(policy(overrideTTL: 300), response: [("Cache-Control", "private")]) == .privateResponse)
    }

    @Test("RFC 9111 §5.2.2.7, §5.2.2.4: qualified private and no-cache fields are stripped before storing")
    func qualifiedStripping() throws {
        let entry = try #require(
            stored(response: [
                ("Cache-Control", "max-age=60, private=\"X-User\", no-cache=\"x-debug\""),
                ("X-User", "alice"), ("Content-Type", "text/plain"), ("X-Debug", "1"), ("x-user", "again"),
            ]))
        #expect(!entry.headers.contains(name: "x-user"))
        #expect(!entry.headers.contains(name: "x-debug"))
        #expect(entry.headers["content-type"] == ["text/plain"])
    }

    @Test("RFC 9111 §3.5: a request with Authorization is not stored without explicit permission")
    func authorizationRefused() {
        let request = [("Authorization", "Bearer x")]
        #expect(reason(request: request, response: [("Cache-Control", "max-age=60")]) == .authorization)
        #expect(
            reason(policy(overrideTTL: 60), request: request, response: [("Cache-Control", "max-age=60")])
                == .authorization)
    }

    @Test(
        "RFC 9111 §3.5: must-revalidate, public or s-maxage allow storing a response to an authorized request",
        arguments: ["max-age=60, must-revalidate", "public, max-age=60", "s-maxage=60"]
    )
    func authorizationAllowed(cacheControl: String) {
        #expect(stored(request: [("Authorization", "Basic eA==")], response: [("Cache-Control", cacheControl)]) != nil)
    }

    @Test("RFC 9111 §4.1: Vary: * is not stored; other Vary names are lower-cased, sorted, deduplicated")
    func vary() throws {
        #expect(reason(response: [("Cache-Control", "max-age=60"), ("Vary", "Accept, *")]) == .varyStar)
        let entry = try #require(
            stored(response: [
                ("Cache-Control", "max-age=60"), ("Vary", "User-Agent, Accept-Encoding"), ("vary", "accept-encoding"),
            ]))
        #expect(entry.varyFields == ["accept-encoding", "user-agent"])
    }

    @Test("RFC 9111 §3, §4.2.2: a 302 without explicit freshness is not stored")
    func redirectWithoutFreshness() {
        #expect(reason(status: 302, response: [("Last-Modified", httpDate(now - 1000))]) == .noFreshness)
        #expect(reason(status: 500, response: [("ETag", "\"a\"")]) == .noFreshness)
    }

    @Test("RFC 9111 §3: explicit freshness makes any final status storable")
    func explicitFreshnessAnyStatus() throws {
        #expect(try #require(stored(status: 302, response: [("Cache-Control", "max-age=30")])).freshnessLifetime == 30)
        let expires = [("Date", httpDate(now)), ("Expires", httpDate(now + 90))]
        #expect(try #require(stored(status: 500, response: expires)).freshnessLifetime == 90)
    }

    @Test("RFC 9111 §3, §4.2.2: public allows heuristic freshness for any status")
    func publicHeuristic() throws {
        let entry = try #require(
            stored(
                status: 302,
                response: [
                    ("Cache-Control", "public"), ("Date", httpDate(now)), ("Last-Modified", httpDate(now - 1000)),
                ]))
        #expect(entry.isHeuristic)
        #expect(entry.freshnessLifetime == 100)
    }

    @Test("RFC 9111 §4.2.2: heuristic freshness is 10% of Date − Last-Modified for a 200")
    func heuristic() throws {
        let entry = try #require(
            stored(response: [("Date", httpDate(now - 10)), ("Last-Modified", httpDate(now - 10 - 5000))]))
        #expect(entry.isHeuristic)
        #expect(entry.freshnessLifetime == 500)
    }

    @Test("RFC 9111 §4.2.2: heuristic freshness is capped at maxHeuristic (a day by default)")
    func heuristicCap() throws {
        let entry = try #require(
            stored(response: [("Date", httpDate(now)), ("Last-Modified", httpDate(now - 30 * 86400))]))
        #expect(entry.freshnessLifetime == 86400)
    }

    @Test("RFC 9111 §4.2.2: a Last-Modified after Date gives no heuristic lifetime")
    func heuristicFutureLastModified() throws {
        let entry = try #require(
            stored(response: [("Date", httpDate(now)), ("Last-Modified", httpDate(now + 100))]))
        #expect(entry.freshnessLifetime == 0)
        #expect(entry.isHeuristic)
    }

    @Test("RFC 9111 §4.2.2: defaultTTL replaces the heuristic, also for 302, never for a 500")
    func defaultTTL() throws {
        let configured = policy(defaultTTL: 120)
        let heuristicCase = [("Date", httpDate(now)), ("Last-Modified", httpDate(now - 5000))]
        let entry = try #require(stored(configured, response: heuristicCase))
        #expect(entry.freshnessLifetime == 120)
        #expect(!entry.isHeuristic)
        #expect(try #require(stored(configured, status: 302, response: [])).freshnessLifetime == 120)
        #expect(reason(configured, status: 500, response: []) == .noFreshness)
        let explicit = try #require(stored(configured, response: [("Cache-Control", "max-age=5")]))
        #expect(explicit.freshnessLifetime == 5)
    }

    @Test("RFC 9111 §4.2.1: overrideTTL replaces the response's own lifetime")
    func overrideTTL() throws {
        let configured = policy(overrideTTL: 600)
        #expect(try #require(stored(configured, response: [("Cache-Control", "max-age=5")])).freshnessLifetime == 600)
        #expect(try #require(stored(configured, response: [])).freshnessLifetime == 600)
        #expect(reason(configured, response: [("Cache-Control", "no-store")]) == .noStore)
        #expect(reason(configured, status: 503, response: []) == .noFreshness)
        let explicit503 = try #require(stored(configured, status: 503, response: [("Cache-Control", "s-maxage=1")]))
        #expect(explicit503.freshnessLifetime == 600)
    }

    @Test("RFC 9111 §4.2.1: every lifetime is capped at maxTTL")
    func maxTTLCap() throws {
        let entry = try #require(stored(policy(maxTTL: 3600), response: [("Cache-Control", "max-age=2147483648")]))
        #expect(entry.freshnessLifetime == 3600)
    }

    @Test("RFC 9111 §4.2.1: s-maxage before max-age before Expires")
    func precedence() throws {
        let all = [
            ("Date", httpDate(now)), ("Expires", httpDate(now + 1000)), ("Cache-Control", "max-age=100, s-maxage=10"),
        ]
        #expect(try #require(stored(response: all)).freshnessLifetime == 10)
        let noShared = [("Date", httpDate(now)), ("Expires", httpDate(now + 1000)), ("Cache-Control", "max-age=100")]
        #expect(try #require(stored(response: noShared)).freshnessLifetime == 100)
    }

    @Test("RFC 9111 §4.2.1: Expires minus Date, or minus the response time when there is no Date")
    func expires() throws {
        let withDate = [("Date", httpDate(now - 50)), ("Expires", httpDate(now + 250))]
        #expect(try #require(stored(response: withDate)).freshnessLifetime == 300)
        let withoutDate = try #require(stored(response: [("Expires", httpDate(now + 40))]))
        #expect(withoutDate.freshnessLifetime == 40)
        #expect(withoutDate.headers["date"] == [httpDate(now)])  // RFC 9110 §6.6.1: Date added when cached
    }

    @Test("RFC 9111 §5.3, §4.2.1: invalid or conflicting Expires and invalid max-age mean already stale")
    func invalidFreshnessIsStale() throws {
        let etag = ("ETag", "\"v1\"")
        #expect(try #require(stored(response: [("Expires", "0"), etag])).freshnessLifetime == 0)
        let twoExpires = [
            ("Date", httpDate(now)), ("Expires", httpDate(now + 60)), ("Expires", httpDate(now + 90)), etag,
        ]
        #expect(try #require(stored(response: twoExpires)).freshnessLifetime == 0)
        let conflicting = [("Cache-Control", "max-age=60, max-age=120"), etag]
        #expect(try #require(stored(response: conflicting)).freshnessLifetime == 0)
        #expect(reason(status: 302, response: [("Cache-Control", "max-age=oops")]) == .notReusable)
    }

    @Test("RFC 9111 §3: a response stale on arrival with no validator and no stale window is not stored")
    func notReusable() {
        #expect(reason(response: [("Cache-Control", "max-age=0")]) == .notReusable)
        #expect(reason(response: [("Cache-Control", "no-cache, max-age=60")]) == .notReusable)
        #expect(stored(response: [("Cache-Control", "max-age=0"), ("ETag", "\"x\"")]) != nil)
        #expect(stored(response: [("Cache-Control", "max-age=0, stale-while-revalidate=30")]) != nil)
        #expect(reason(response: [("Cache-Control", "max-age=0, must-revalidate, stale-if-error=30")]) == .notReusable)
    }

    @Test("RFC 9110 §7.6.1, RFC 9111 §3.1: hop-by-hop fields and those named by Connection are not stored")
    func hopByHop() throws {
        let entry = try #require(
            stored(response: [
                ("Date", httpDate(now)), ("Connection", "close, X-Hop"), ("Keep-Alive", "timeout=5"),
                ("Proxy-Connection", "keep-alive"), ("TE", "trailers"), ("Transfer-Encoding", "chunked"),
                ("Upgrade", "h2c"), ("Trailer", "X-Sum"), ("Proxy-Authenticate", "Basic"),
                ("Proxy-Authorization", "Basic eA=="), ("X-Hop", "1"), ("Cache-Control", "max-age=60"),
                ("Age", "3"), ("X-Kept", "a"), ("X-Kept", "b"),
            ]))
        #expect(entry.headers.map(\.name) == ["Date", "Cache-Control", "X-Kept", "X-Kept"])
        #expect(entry.headers["x-kept"] == ["a", "b"])
    }

    @Test("RFC 9111 §3.1: Set-Cookie is stripped unless storeSetCookie")
    func setCookie() throws {
        let response = [("Cache-Control", "max-age=60"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
        #expect(!(try #require(stored(response: response))).headers.contains(name: "set-cookie"))
        let kept = try #require(stored(policy(storeSetCookie: true), response: response))
        #expect(kept.headers["set-cookie"] == ["a=1", "b=2"])
    }

    @Test("Surrogate-Key tags: space-separated, deduplicated, removed from the stored fields")
    func tags() throws {
        let entry = try #require(
            stored(response: [("Cache-Control", "max-age=60"), ("Surrogate-Key", "a  b\ta"), ("surrogate-key", "c")]))
        #expect(entry.tags == ["a", "b", "c"])
        #expect(!entry.headers.contains(name: "surrogate-key"))
        let custom = try #require(
            stored(policy(tagField: "Cache-Tag"), response: [("Cache-Control", "max-age=60"), ("Cache-Tag", "x")]))
        #expect(custom.tags == ["x"])
        #expect(!custom.headers.contains(name: "cache-tag"))
    }

    @Test("RFC 9110 §8.6, §8.8: validators and body length are recorded")
    func validatorsAndLength() throws {
        let entry = try #require(
            stored(response: [
                ("Cache-Control", "max-age=60"), ("ETag", " W/\"v1\" "), ("Last-Modified", httpDate(now - 100)),
                ("Content-Length", "1234"),
            ]))
        #expect(entry.etag == "W/\"v1\"")
        #expect(entry.lastModified == httpDate(now - 100))
        #expect(entry.bodyLength == 1234)
        #expect(
            try #require(stored(response: [("Cache-Control", "max-age=60"), ("Content-Length", "+5")])).bodyLength
                == nil)
        #expect(
            try #require(stored(response: [("Cache-Control", "max-age=60"), ("Content-Length", "7, 7")])).bodyLength
                == 7)
    }

    @Test("NotStoredReason.text values are distinct sf-tokens for Cache-Status detail")
    func reasonTexts() {
        let texts = NotStoredReason.allCases.map(\.text)
        #expect(Set(texts).count == texts.count)
        #expect(texts.allSatisfy(CacheStatus.isToken))
    }
}
