internal import MeridianCache

extension StatusReporter {
    /// The status page's cache card: each tier's lookups since start, and each cached route's hits; nil when no
    /// route caches.
    static func cacheSection(_ stats: CacheStats?) -> StatusDocument.Cache? {
        guard let stats, !stats.routes.isEmpty else { return nil }
        func ratio(_ hits: Int, _ total: Int) -> Double? { total > 0 ? round(Double(hits) / Double(total), 4) : nil }
        func tier(_ t: CacheTier) -> StatusDocument.Cache.Tier {
            let hits = stats.lookups(t, .hit)
            let misses = stats.lookups(t, .miss) + stats.lookups(t, .pass) + stats.lookups(t, .bypass)
            let stale = stats.lookups(t, .stale) + stats.lookups(t, .revalidated)
            return .init(
                hits: hits, misses: misses, hit_ratio: ratio(hits + stale, hits + stale + misses), stale: stale,
                errors: stats.lookups(t, .error), bytes: t == .l1 ? stats.l1Bytes : nil, limit_bytes: t == .l1 ? stats.l1Limit : nil,
                entries: t == .l1 ? stats.l1Entries : nil
            )
        }
        let routes = stats.routes.map { r -> StatusDocument.Cache.Route in
            let l1 = r.lookups(.l1, .hit) + r.lookups(.l1, .stale) + r.lookups(.l1, .revalidated)
            let l2 = r.lookups(.l2, .hit) + r.lookups(.l2, .stale) + r.lookups(.l2, .revalidated)
            let lookups = CacheStats.Result.allCases.reduce(0) { $0 + r.lookups(.l1, $1) }
            return .init(route: r.route, l1_hits: l1, l2_hits: l2, lookups: lookups, hit_ratio: ratio(l1 + l2, lookups))
        }
        return .init(
            l1: tier(.l1), l2: stats.hasL2 ? tier(.l2) : nil, routes: routes, collapsed: stats.collapsed.value,
            purges: stats.purges.value, evictions: stats.l1Evictions
        )
    }
}
