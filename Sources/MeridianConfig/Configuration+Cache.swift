extension Configuration {
    /// The top-level `cache:` section: the stores every cached route shares (the in-process L1, Redis as L2, the
    /// cluster fill lock) and how purges may arrive.
    public struct CacheStores: Sendable, Equatable {
        /// The L1 bound in bytes (bodies and headers of every entry).
        public var memory: Int = 256 << 20
        /// The L1 bound in entries.
        public var maxEntries: Int = 100_000
        /// Whether entries also go to Redis (needs `redis:`). Off keeps the cache per instance.
        public var l2: Bool = true
        /// Bodies longer than this stay L1-only.
        public var l2MaxBody: Int = 1 << 20
        /// The longest an entry lives in Redis (longer freshness is cut to it); purge rules are kept as long.
        public var l2MaxTTL: Duration = .seconds(86400)
        /// The longest a request waits for one Redis call of the cache (a lookup with its body, a store) before it
        /// goes on as if L2 had missed.
        public var l2Timeout: Duration = .milliseconds(50)
        /// Responses longer than this are not stored at all: they stream through.
        public var maxBody: Int = 8 << 20
        /// How long the holder of the cluster fill lock may take before another instance takes over (renewed while
        /// the fill goes on, so a dead holder is noticed within this).
        public var lockTTL: Duration = .seconds(3)
        /// How long a request waits for another request's (or instance's) fill before going to the origin itself.
        public var lockWait: Duration = .seconds(10)
        /// Entries with a validator (ETag, Last-Modified) are kept this long past their stale windows for revalidation
        /// (Varnish's `keep`; nginx keeps entries for `inactive`, 10 minutes): a stale entry costs a 304 rather than a
        /// full response.
        public var keep: Duration = .seconds(300)
        /// The `PURGE` method on cached routes, from these networks only. Empty: no PURGE method.
        public var purgeAllow: [String] = ["127.0.0.1/32", "::1/128"]
        /// Answer `PURGE` requests at all.
        public var purgeMethod: Bool = false

        public init() {}
    }

    /// `cache:` on a `proxy` route: HTTP caching (RFC 9111) of its responses.
    public struct Cache: Sendable, Equatable {
        /// Used when a response gives no explicit freshness, instead of the heuristic (nginx's `proxy_cache_valid`).
        public var defaultTTL: Duration?
        /// Replaces a response's own freshness lifetime (it still never stores `no-store` or `private`).
        public var overrideTTL: Duration?
        /// Freshness lifetimes are capped at this.
        public var maxTTL: Duration = .seconds(86400 * 365)
        /// Keep `Set-Cookie` in stored responses (off: stripped, as a shared cache must not hand one client's
        /// cookie to another).
        public var storeSetCookie = false
        /// Query parameters left out of the key (`utm_source`, `fbclid`).
        public var ignoreQuery: [String] = []
        /// Sort query parameters in the key, so `?a=1&b=2` and `?b=2&a=1` share an entry.
        public var sortQuery = true
        /// The response field whose space-separated tags index the entry for purges (Fastly's `Surrogate-Key`).
        public var tagHeader = "surrogate-key"
        /// Concurrent misses for one key wait for one origin request (per instance and, with Redis, per cluster).
        public var coalesce = true
        /// Serve stale within `stale-while-revalidate` while one background request refreshes.
        public var staleWhileRevalidate = true
        /// Use `stale-if-error` windows when the upstream fails or its breaker is open.
        public var staleIfError = true

        public init() {}
    }
}

extension Configuration.Route {
    /// The route's name, or its path pattern: what metrics label it with.
    public var label: String { name ?? RouteDecoder.describe(match.path) }
}
