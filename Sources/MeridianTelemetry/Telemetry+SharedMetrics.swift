internal import MeridianSecurity
internal import Atomics
internal import MeridianCluster
internal import MeridianCompression
internal import MeridianCache
internal import MeridianWebSocket

extension Telemetry {
    /// Redis health and the rate limits in `/metrics` (the Redis families only when `redis:` is configured).
    func renderSharedMetrics(_ e: inout Exposition) {
        let sources = attached
        if let channels = sources.channels { renderChannelMetrics(channels, &e) }
        if let isDegraded = sources.redisDegraded {
            let r = redisMetrics
            e.family("meridian_redis_degraded", .gauge, "1 while Redis is unreachable and shared state falls back to local.")
            e.sample("meridian_redis_degraded", [], isDegraded() ? 1 : 0)
            if let membership = sources.membership {
                e.family("meridian_cluster_instances", .gauge, "Live instances sharing this one's Redis (heartbeats within 5 s), this one included; kept through an outage.")
                e.sample("meridian_cluster_instances", [], membership.liveInstances)
            }
            e.family("meridian_redis_degraded_transitions", .counter, "Times the instance lost Redis and went degraded.")
            e.sample("meridian_redis_degraded_transitions_total", [], r.degradedTransitions.load(ordering: .relaxed))
            e.family("meridian_redis_commands", .counter, "Redis commands by result (ok, error reply, timeout, unavailable, closed).")
            for (i, result) in RedisTelemetry.results.enumerated() {
                e.sample("meridian_redis_commands_total", [("result", result)], r.commands[i].load(ordering: .relaxed))
            }
            let name = "meridian_redis_command_duration_seconds"
            e.family(name, .histogram, "Round-trip time of Redis commands that got an answer.", unit: "seconds")
            var cumulative = 0
            var count = 0
            for (i, b) in r.buckets.enumerated() {
                cumulative += b.load(ordering: .relaxed)
                let le = i < RequestMetrics.bounds.count ? Exposition.format(RequestMetrics.bounds[i]) : "+Inf"
                e.sample(name + "_bucket", [("le", le)], cumulative)
                count = cumulative
            }
            e.sample(name + "_count", [], count)
            e.sample(name + "_sum", [], Double(r.sumNanoseconds.load(ordering: .relaxed)) / 1e9)
            e.family("meridian_redis_reconnects", .counter, "Connections to Redis made again after one was lost.")
            e.sample("meridian_redis_reconnects_total", [], r.reconnects.load(ordering: .relaxed))
            e.family("meridian_redis_pubsub_messages", .counter, "Pub/sub messages received, by channel.")
            for (channel, n) in r.messages.withLockedValue({ $0 }).sorted(by: { $0.key < $1.key }) {
                e.sample("meridian_redis_pubsub_messages_total", [("channel", channel)], n)
            }
        }
        if let (stats, cache) = sources.compression {
            let codings: [(String, CompressionStats.Counters)] = [("br", stats.brotli), ("gzip", stats.gzip)]
            e.family("meridian_compression_responses", .counter, "Responses compressed on the fly, by encoding.")
            for (name, c) in codings { e.sample("meridian_compression_responses_total", [("encoding", name)], c.responses.load(ordering: .relaxed)) }
            e.family("meridian_compression_bytes", .counter, "Body bytes into and out of the compressors, by encoding.", unit: "bytes")
            for (name, c) in codings {
                e.sample("meridian_compression_bytes_total", [("encoding", name), ("direction", "in")], c.bytesIn.load(ordering: .relaxed))
                e.sample("meridian_compression_bytes_total", [("encoding", name), ("direction", "out")], c.bytesOut.load(ordering: .relaxed))
            }
            e.family("meridian_compression_seconds", .counter, "Time spent compressing, by encoding.", unit: "seconds")
            for (name, c) in codings {
                e.sample("meridian_compression_seconds_total", [("encoding", name)], Double(c.nanoseconds.load(ordering: .relaxed)) / 1e9)
            }
            e.family("meridian_compression_cache_hits", .counter, "Static files answered from the cache of compressed variants.")
            for (name, c) in codings { e.sample("meridian_compression_cache_hits_total", [("encoding", name)], c.cacheHits.load(ordering: .relaxed)) }
            e.family("meridian_compression_cache_bytes", .gauge, "Bytes held by the cache of compressed variants.", unit: "bytes")
            e.sample("meridian_compression_cache_bytes", [], cache.usage.bytes)
        }
        if let cache = sources.cache { renderCacheMetrics(cache, &e) }
        if let stats = sources.rateLimits {
            e.family(
                "meridian_ratelimit_requests", .counter,
                "Requests under a rate limit, by policy, result (allowed, limited) and scope (local, global, fallback: the local share while Redis is down).")
            for s in stats.samples() {
                e.sample("meridian_ratelimit_requests_total", [("policy", s.policy), ("scope", s.scope), ("result", s.result)], s.count)
            }
        }
        if let stats = sources.security {
            e.family("meridian_access_denied", .counter, "Requests refused by address rules, by route and by whose rules (listener, route).")
            for s in stats.accessSamples() { e.sample("meridian_access_denied_total", [("route", s.route), ("scope", s.scope)], s.count) }
            e.family(
                "meridian_auth_requests", .counter,
                "Authentications by authenticator and result (ok, missing, invalid, expired, … as each kind reports them).")
            for s in stats.authSamples() {
                e.sample("meridian_auth_requests_total", [("authenticator", s.authenticator), ("result", s.result)], s.count)
            }
            e.family("meridian_waf_requests", .counter, "Requests the WAF inspected, by route and result (passed, detected: matched but let through, blocked).")
            for s in stats.wafSamples() { e.sample("meridian_waf_requests_total", [("route", s.route), ("result", s.result)], s.count) }
            e.family("meridian_waf_rule_matches", .counter, "WAF rule matches by OWASP CRS rule id.")
            for s in stats.wafRuleSamples() { e.sample("meridian_waf_rule_matches_total", [("rule", String(s.rule))], s.count) }
        }
    }
}

extension Telemetry {
    /// The HTTP cache: lookups per route, tier and result; the L1 store's size; L2 stores; coalescing; purges.
    func renderCacheMetrics(_ c: CacheStats, _ e: inout Exposition) {
        e.family(
            "meridian_cache_lookups", .counter,
            "Cache lookups by route, tier (l1, l2) and result (hit, stale, miss, revalidated, pass, bypass, error).")
        for route in c.routes {
            for tier in [CacheTier.l1, .l2] {
                for result in CacheStats.Result.allCases {
                    let n = route.lookups(tier, result)
                    if n > 0 || result == .hit || result == .miss {
                        e.sample("meridian_cache_lookups_total", [("route", route.route), ("tier", tier == .l1 ? "l1" : "l2"), ("result", result.rawValue)], n)
                    }
                }
            }
        }
        e.family("meridian_cache_l1_bytes", .gauge, "Bytes held by the in-process cache (bodies, fields, bookkeeping).", unit: "bytes")
        e.sample("meridian_cache_l1_bytes", [], c.l1Bytes)
        e.family("meridian_cache_l1_limit_bytes", .gauge, "The in-process cache's bound (cache.memory).", unit: "bytes")
        e.sample("meridian_cache_l1_limit_bytes", [], c.l1Limit)
        e.family("meridian_cache_l1_entries", .gauge, "Entries in the in-process cache.")
        e.sample("meridian_cache_l1_entries", [], c.l1Entries)
        e.family("meridian_cache_l1_evictions", .counter, "Entries the in-process cache evicted to stay within its bounds.")
        e.sample("meridian_cache_l1_evictions_total", [], c.l1Evictions)
        e.family("meridian_cache_l2_stores", .counter, "Entries written to Redis.")
        e.sample("meridian_cache_l2_stores_total", [], c.l2Stores.value)
        e.family("meridian_cache_l2_stored_bytes", .counter, "Body bytes written to Redis.", unit: "bytes")
        e.sample("meridian_cache_l2_stored_bytes_total", [], c.l2BytesStored.value)
        e.family("meridian_cache_collapsed_requests", .counter, "Requests that waited for another request's fill instead of going to the origin.")
        e.sample("meridian_cache_collapsed_requests_total", [], c.collapsed.value)
        e.family("meridian_cache_lock_waits", .counter, "Waits for another instance's fill lock, by outcome (waited, timeout).")
        e.sample("meridian_cache_lock_waits_total", [("outcome", "waited")], c.lockWaits.value)
        e.sample("meridian_cache_lock_waits_total", [("outcome", "timeout")], c.lockTimeouts.value)
        e.family("meridian_cache_background_refreshes", .counter, "Stale entries refreshed in the background (stale-while-revalidate).")
        e.sample("meridian_cache_background_refreshes_total", [], c.backgroundRefreshes.value)
        e.family("meridian_cache_purges", .counter, "Purge rules applied on this instance (from it or from another).")
        e.sample("meridian_cache_purges_total", [], c.purges.value)
        e.family("meridian_cache_purged_entries", .counter, "In-process entries dropped by purges.")
        e.sample("meridian_cache_purged_entries_total", [], c.purgedEntries.value)
        e.family("meridian_cache_too_large", .counter, "Responses not stored because they were longer than cache.max_body.")
        e.sample("meridian_cache_too_large_total", [], c.tooLarge.value)
    }
}

extension Telemetry {
    /// WebSocket and SSE channels: per route pattern (never a channel name), and the fan-out latency.
    func renderChannelMetrics(_ stats: ChannelStats, _ e: inout Exposition) {
        let routes = stats.allRoutes
        func perRoute(_ name: String, _ kind: Exposition.Kind, _ help: String, _ value: (ChannelStats.Route) -> Int, extra: [(String, String)] = []) {
            e.family(name, kind, help)
            let sample = kind == .counter ? name + "_total" : name
            for (label, r) in routes { e.sample(sample, [("route", label), ("protocol", r.protocolName)] + extra, value(r)) }
        }
        perRoute("meridian_channel_connections", .gauge, "WebSocket and SSE connections open now, by route.") { $0.open.load(ordering: .relaxed) }
        perRoute("meridian_channel_connections_opened", .counter, "WebSocket and SSE connections accepted, by route.") {
            $0.opened.load(ordering: .relaxed)
        }
        e.family("meridian_channel_messages", .counter, "Channel messages from clients (in) and to clients (out), by route.")
        for (label, r) in routes {
            e.sample("meridian_channel_messages_total", [("route", label), ("protocol", r.protocolName), ("direction", "in")], r.messagesIn.load(ordering: .relaxed))
            e.sample("meridian_channel_messages_total", [("route", label), ("protocol", r.protocolName), ("direction", "out")], r.messagesOut.load(ordering: .relaxed))
        }
        perRoute("meridian_channel_dropped_messages", .counter, "Messages dropped for a slow client (slow_consumer: drop_oldest), by route.") {
            $0.dropped.load(ordering: .relaxed)
        }
        e.family("meridian_channel_closed", .counter, "Channel connections the server ended, by route and reason (slow, draining, protocol).")
        for (label, r) in routes {
            let base = [("route", label), ("protocol", r.protocolName)]
            e.sample("meridian_channel_closed_total", base + [("reason", "slow")], r.closedSlow.load(ordering: .relaxed))
            e.sample("meridian_channel_closed_total", base + [("reason", "draining")], r.closedDraining.load(ordering: .relaxed))
            e.sample("meridian_channel_closed_total", base + [("reason", "protocol")], r.closedProtocol.load(ordering: .relaxed))
        }
        e.family("meridian_channel_published", .counter, "Messages published to channels (scope cluster: through Redis; instance: Redis unreachable or absent).")
        e.sample("meridian_channel_published_total", [("scope", "cluster")], stats.publishedCluster.load(ordering: .relaxed))
        e.sample("meridian_channel_published_total", [("scope", "instance")], stats.publishedLocalOnly.load(ordering: .relaxed))
        let name = "meridian_channel_fanout_seconds"
        e.family(name, .histogram, "From publish (on any instance) to delivery to this instance's subscribers.", unit: "seconds")
        var cumulative = 0
        for (i, b) in stats.latencyBuckets.enumerated() {
            cumulative += b.load(ordering: .relaxed)
            let le = i < ChannelStats.latencyBounds.count ? Exposition.format(ChannelStats.latencyBounds[i]) : "+Inf"
            e.sample(name + "_bucket", [("le", le)], cumulative)
        }
        e.sample(name + "_count", [], cumulative)
        e.sample(name + "_sum", [], Double(stats.latencyMicroseconds.load(ordering: .relaxed)) / 1e6)
    }
}
