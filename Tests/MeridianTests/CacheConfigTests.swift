import MeridianConfig
import Testing

/// `cache:` at the top and on routes: what decodes, and every mistake with its file:line and what to change.
struct CacheConfigTests {
    static func route(_ cache: String, action: String = "proxy: api") -> String {
        """
        upstreams: [{name: api, endpoints: ["127.0.0.1:9"]}]
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                \(action)
                cache: \(cache)
        """
    }

    @Test func aRouteCacheDecodesWithItsRules() throws {
        let c = try ConfigLoader.parse(
            yaml: Self.route(
                "{default_ttl: 30s, override_ttl: 5m, max_ttl: 1h, store_set_cookie: true, ignore_query: [utm_source], sort_query: false, tag_header: Cache-Tag, coalesce: false, stale_while_revalidate: false, stale_if_error: false}"
            ), source: "t.yaml")
        let cache = try #require(c.hosts[0].routes[0].cache)
        #expect(cache.defaultTTL == .seconds(30) && cache.overrideTTL == .seconds(300) && cache.maxTTL == .seconds(3600))
        #expect(cache.storeSetCookie && !cache.sortQuery && !cache.coalesce && !cache.staleWhileRevalidate && !cache.staleIfError)
        #expect(cache.ignoreQuery == ["utm_source"] && cache.tagHeader == "cache-tag")
        #expect(try ConfigLoader.parse(yaml: Self.route("on"), source: "t.yaml").hosts[0].routes[0].cache == Configuration.Cache())
        #expect(try ConfigLoader.parse(yaml: Self.route("off"), source: "t.yaml").hosts[0].routes[0].cache == nil)
    }

    @Test func theStoresDecode() throws {
        let c = try ConfigLoader.parse(
            yaml: "cache: {memory: 64MiB, max_entries: 5000, l2: false, l2_max_body: 256KiB, l2_max_ttl: 2h, l2_timeout: 20ms, max_body: 2MiB, lock_ttl: 1s, lock_wait: 3s, keep: 0s, purge: {method: true, allow: [10.0.0.0/8]}}\n"
                + Self.route("on"), source: "t.yaml")
        #expect(c.cache.memory == 64 << 20 && c.cache.maxEntries == 5000 && !c.cache.l2 && c.cache.l2MaxBody == 256 << 10)
        #expect(c.cache.l2MaxTTL == .seconds(7200) && c.cache.l2Timeout == .milliseconds(20) && c.cache.maxBody == 2 << 20)
        #expect(c.cache.lockTTL == .seconds(1) && c.cache.lockWait == .seconds(3) && c.cache.keep == .zero)
        #expect(c.cache.purgeMethod && c.cache.purgeAllow == ["10.0.0.0/8"])
    }

    @Test func cacheMistakesAreClearErrors() {
        let cases: [(String, String)] = [
            (Self.route("on", action: "respond: {body: x}"), "test.yaml:7:16: hosts[0].routes[0].cache: caches proxied responses only; remove it"),
            (Self.route("{default_ttl: soon}"), "default_ttl: 'soon' is not a duration"),
            (Self.route("{bogus: 1}"), "hosts[0].routes[0].cache.bogus"),
            (Self.route("{tag_header: \"a b\"}"), "is not a header name"),
            (Self.route("{max_ttl: 0s}"), "max_ttl"),
            ("cache: {memory: lots}\n" + Self.route("on"), "cache.memory"),
            ("cache: {purge: {allow: [nonsense]}}\n" + Self.route("on"), "'nonsense' is not an address or CIDR network"),
            ("cache: {lock_ttl: 1ms}\n" + Self.route("on"), "cache.lock_ttl"),
            ("cache: {colour: blue}\n" + Self.route("on"), "cache.colour"),
        ]
        for (yaml, expected) in cases {
            let errors = configErrors(yaml)
            #expect(errors.contains { $0.contains(expected) }, "\(expected) not in \(errors)")
        }
    }
}
