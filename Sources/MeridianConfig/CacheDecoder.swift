internal import Yams

/// `cache:` at the top (the stores) and on a proxy route (the route's caching rules).
struct CacheDecoder {
    let reader: ConfigReader

    func stores(_ node: Node) -> Configuration.CacheStores {
        var c = Configuration.CacheStores()
        let path = "cache"
        let keys = ["memory", "max_entries", "l2", "l2_max_body", "l2_max_ttl", "l2_timeout", "max_body", "lock_ttl", "lock_wait", "keep", "purge"]
        guard let m = reader.mapping(node, path, allowed: keys) else { return c }
        if let n = m["memory"], let v = reader.size(n, "\(path).memory", range: 0...(1 << 40)) { c.memory = v }
        if let n = m["max_entries"], let v = reader.int(n, "\(path).max_entries", range: 0...100_000_000) { c.maxEntries = v }
        if let n = m["l2"], let v = reader.bool(n, "\(path).l2") { c.l2 = v }
        if let n = m["l2_max_body"], let v = reader.size(n, "\(path).l2_max_body", range: 0...(512 << 20)) { c.l2MaxBody = v }
        if let n = m["l2_max_ttl"], let v = reader.duration(n, "\(path).l2_max_ttl", range: .seconds(1)...(.seconds(86400 * 30))) { c.l2MaxTTL = v }
        if let n = m["l2_timeout"], let v = reader.duration(n, "\(path).l2_timeout", range: .milliseconds(1)...(.seconds(10))) { c.l2Timeout = v }
        if let n = m["max_body"], let v = reader.size(n, "\(path).max_body", range: 0...(1 << 32)) { c.maxBody = v }
        if let n = m["lock_ttl"], let v = reader.duration(n, "\(path).lock_ttl", range: .milliseconds(100)...(.seconds(600))) { c.lockTTL = v }
        if let n = m["lock_wait"], let v = reader.duration(n, "\(path).lock_wait", range: .zero...(.seconds(600))) { c.lockWait = v }
        if let n = m["keep"], let v = reader.duration(n, "\(path).keep", range: .zero...(.seconds(86400 * 30))) { c.keep = v }
        if let n = m["purge"], let p = reader.mapping(n, "\(path).purge", allowed: ["method", "allow"]) {
            if let n = p["method"], let v = reader.bool(n, "\(path).purge.method") { c.purgeMethod = v }
            if let n = p["allow"], let v = reader.strings(n, "\(path).purge.allow") {
                if let bad = v.first(where: { IPNetwork(parsing: $0) == nil }) {
                    reader.error(n, "\(path).purge.allow", "'\(bad)' is not an address or CIDR network, like 10.0.0.0/8")
                } else {
                    c.purgeAllow = v
                }
            }
        }
        return c
    }

    /// A route's `cache:`: `on`, `off` (nil), or a mapping.
    func route(_ node: Node, _ path: String) -> Configuration.Cache? {
        var c = Configuration.Cache()
        if case .scalar = node, let on = reader.bool(node, path) { return on ? c : nil }
        let keys = [
            "default_ttl", "override_ttl", "max_ttl", "store_set_cookie", "ignore_query", "sort_query", "tag_header",
            "coalesce", "stale_while_revalidate", "stale_if_error",
        ]
        guard let m = reader.mapping(node, path, allowed: keys) else { return nil }
        let day = Duration.seconds(86400)
        if let n = m["default_ttl"], !reader.isNull(n), let v = reader.duration(n, "\(path).default_ttl", range: .seconds(1)...(day * 365)) { c.defaultTTL = v }
        if let n = m["override_ttl"], !reader.isNull(n), let v = reader.duration(n, "\(path).override_ttl", range: .seconds(1)...(day * 365)) { c.overrideTTL = v }
        if let n = m["max_ttl"], let v = reader.duration(n, "\(path).max_ttl", range: .seconds(1)...(day * 365)) { c.maxTTL = v }
        if let n = m["store_set_cookie"], let v = reader.bool(n, "\(path).store_set_cookie") { c.storeSetCookie = v }
        if let n = m["ignore_query"], let v = reader.strings(n, "\(path).ignore_query") { c.ignoreQuery = v }
        if let n = m["sort_query"], let v = reader.bool(n, "\(path).sort_query") { c.sortQuery = v }
        if let n = m["tag_header"], let v = reader.string(n, "\(path).tag_header") {
            if HeaderSyntax.isToken(v) { c.tagHeader = v.lowercased() } else {
                reader.error(n, "\(path).tag_header", "'\(v)' is not a header name; expected a token like surrogate-key")
            }
        }
        if let n = m["coalesce"], let v = reader.bool(n, "\(path).coalesce") { c.coalesce = v }
        if let n = m["stale_while_revalidate"], let v = reader.bool(n, "\(path).stale_while_revalidate") { c.staleWhileRevalidate = v }
        if let n = m["stale_if_error"], let v = reader.bool(n, "\(path).stale_if_error") { c.staleIfError = v }
        return c
    }
}
