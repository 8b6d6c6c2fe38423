internal import Foundation
internal import MeridianCluster
internal import MeridianCore
internal import NIOConcurrencyHelpers
internal import NIOCore

/// The numbers behind `/status`: once a second it merges the request metrics into a tick; rates
/// and latency percentiles come from the difference between ticks, so they describe the last
/// seconds, not the whole uptime.
final class StatusReporter: Sendable {
    struct RouteTick {
        var count: UInt64 = 0
        var errors: UInt64 = 0
        var bytesOut: UInt64 = 0
        var buckets: [UInt64] = Array(repeating: 0, count: RequestMetrics.bounds.count + 1)
    }

    struct Tick {
        var at: Date
        var total = RouteTick()
        var classes: [UInt64] = [0, 0, 0, 0, 0]
        var routes: [String: RouteTick] = [:]
        /// By cluster and endpoint; errors are 5xx and tries without a response.
        var upstreams: [UpstreamMetrics.Key: RouteTick] = [:]
    }

    /// Seconds the headline rate and percentiles cover.
    static let window = 10
    static let historyLength = 120

    private let ticks = NIOLockedValueBox<[Tick]>([])
    /// Weak: the telemetry owns this reporter; a sampling task that outlives it does nothing.
    private weak let telemetryRef: Telemetry?
    /// The document as of the last tick, shared by every events stream.
    private let cachedJSON = NIOLockedValueBox<String?>(nil)

    init(telemetry: Telemetry) {
        self.telemetryRef = telemetry
    }

    /// The document of the last tick (made now when there has been none).
    func latestJSON() -> String {
        if let cached = cachedJSON.withLockedValue({ $0 }) { return cached }
        return json()
    }

    func sample() {
        guard let telemetry = telemetryRef else { return }
        var tick = Tick(at: Date())
        for (key, series) in telemetry.requestMetrics.snapshot() {
            let isError = key.status >= 500
            tick.total.add(series, isError: isError)
            tick.routes[key.route, default: RouteTick()].add(series, isError: isError)
            let cls = min(max(key.status / 100, 1), 5) - 1
            tick.classes[cls] += series.count
        }
        tick.upstreams = Self.upstreamTick(telemetry.upstreamMetrics)
        ticks.withLockedValue {
            $0.append(tick)
            if $0.count > Self.historyLength + 1 { $0.removeFirst($0.count - Self.historyLength - 1) }
        }
        let text = json()
        cachedJSON.withLockedValue { $0 = text }
    }

    func document() -> StatusDocument? {
        guard let t = telemetryRef else { return nil }
        let all = ticks.withLockedValue { $0 }
        let now = Date()
        let src = t.attached
        let reload = t.configGeneration
        var doc = StatusDocument(
            instance: .init(
                id: t.instanceID, host: t.hostName, version: t.version, started_at: Self.iso(t.startedAt),
                uptime_seconds: (now.timeIntervalSince(t.startedAt) * 10).rounded() / 10, config_generation: reload.generation,
                config_loaded_at: Self.iso(reload.at), ready: !(src.health?.isShuttingDown ?? false), draining: src.health?.isShuttingDown ?? false,
                service_name: t.config.serviceName, redis: src.redisDegraded.map { $0() ? "degraded" : "connected" }
            )
        )
        if let membership = src.membership {
            doc.cluster = .init(instance: membership.instanceID, live: membership.liveInstances, instances: membership.instances)
        }
        let latest = all.last
        let base = all.count > Self.window ? all[all.count - 1 - Self.window] : all.first
        var seconds = 0.0
        if let latest, let base { seconds = latest.at.timeIntervalSince(base.at) }
        func rate(_ a: UInt64, _ b: UInt64) -> Double { seconds > 0 ? Self.round(Double(a &- b) / seconds, 1) : 0 }
        func delta(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] { zip(a, b).map { $0 &- $1 } }
        func latency(_ buckets: [UInt64]) -> StatusDocument.Latency {
            .init(
                p50: RequestMetrics.quantile(0.5, buckets: buckets).map { Self.round($0 * 1000, 3) },
                p90: RequestMetrics.quantile(0.9, buckets: buckets).map { Self.round($0 * 1000, 3) },
                p99: RequestMetrics.quantile(0.99, buckets: buckets).map { Self.round($0 * 1000, 3) }
            )
        }
        if let server = src.server {
            let s = server.services
            doc.requests.total = s.totalRequests.load(ordering: .relaxed)
            doc.requests.active = s.activeRequests.load(ordering: .relaxed)
            let h1 = s.openHTTP1.load(ordering: .relaxed)
            let h2 = s.openHTTP2.load(ordering: .relaxed)
            doc.connections = .init(
                open: server.openConnections.load(ordering: .relaxed), http1: h1, http2: h2,
                accepted: server.acceptedConnections.load(ordering: .relaxed), refused: server.refusedConnections.load(ordering: .relaxed)
            )
            let stores = server.certificateStores
            doc.tls = .init(
                handshakes: s.tlsHandshakes.reduce(0) { $0 + $1.load(ordering: .relaxed) },
                failures: stores.reduce(0) { $0 + $1.handshakeFailures.load(ordering: .relaxed) + $1.handshakeRejections.load(ordering: .relaxed) },
                certificate_reloads: stores.reduce(0) { $0 + $1.reloads.load(ordering: .relaxed) },
                certificate_reload_failures: stores.reduce(0) { $0 + $1.reloadFailures.load(ordering: .relaxed) }
            )
        }
        if let latest, let base {
            doc.requests.per_second = rate(latest.total.count, base.total.count)
            doc.requests.latency_ms = latency(delta(latest.total.buckets, base.total.buckets))
            doc.requests.status = .init(
                c1xx: latest.classes[0], c2xx: latest.classes[1], c3xx: latest.classes[2], c4xx: latest.classes[3], c5xx: latest.classes[4]
            )
            doc.routes = latest.routes.map { route, r in
                let b = base.routes[route] ?? RouteTick()
                return .init(
                    host: "", route: route, requests: r.count, per_second: rate(r.count, b.count), errors: r.errors,
                    latency_ms: latency(delta(r.buckets, b.buckets)), bytes_out: r.bytesOut
                )
            }.sorted { ($0.per_second, $0.requests) > ($1.per_second, $1.requests) }
        }
        doc.cache = Self.cacheSection(src.cache)
        doc.upstreams = Self.upstreamRows(src.upstreams?.snapshots() ?? [], latest: latest, base: base, rate: rate, latency: latency)
        doc.requests.window_seconds = Int(seconds.rounded())
        if all.count > 1 {
            for i in 1..<all.count {
                let a = all[i]
                let b = all[i - 1]
                let dt = a.at.timeIntervalSince(b.at)
                guard dt > 0 else { continue }
                let buckets = delta(a.total.buckets, b.total.buckets)
                doc.requests.history.append(
                    .init(
                        t: Int(a.at.timeIntervalSince1970), per_second: Self.round(Double(a.total.count &- b.total.count) / dt, 1),
                        p99_ms: RequestMetrics.quantile(0.99, buckets: buckets).map { Self.round($0 * 1000, 3) },
                        errors_per_second: Self.round(Double(a.total.errors &- b.total.errors) / dt, 2)
                    )
                )
            }
        }
        doc.tracing = .init(
            enabled: t.tracingSummary.enabled, sample_ratio: t.tracingSummary.ratio, sampler: t.tracingSummary.sampler,
            spans_sampled: t.tracingCounters.sampled.load(ordering: .relaxed),
            spans_dropped: t.tracingCounters.droppedQueueFull.load(ordering: .relaxed) + t.tracingCounters.droppedExportFailed.load(ordering: .relaxed)
        )
        doc.access_log = .init(
            enabled: t.accessLog != nil, lines: t.accessLog?.lines.load(ordering: .relaxed) ?? 0,
            dropped: t.accessLog?.dropped.load(ordering: .relaxed) ?? 0
        )
        return doc
    }

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let doc = document(), let data = try? encoder.encode(doc) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    static func iso(_ date: Date) -> String {
        AccessLog.utcSecond(Int(date.timeIntervalSince1970)) + "Z"
    }

    static func round(_ v: Double, _ places: Int) -> Double {
        let m = pow(10.0, Double(places))
        return (v * m).rounded() / m
    }
}

extension StatusReporter.RouteTick {
    mutating func add(_ s: RequestMetrics.Series, isError: Bool) {
        count += s.count
        if isError { errors += s.count }
        bytesOut += s.bytesOut
        for i in buckets.indices { buckets[i] += s.buckets[i] }
    }
}

/// `/status.json`; the status page and its server-sent events carry the same document.
struct StatusDocument: Codable {
    struct Instance: Codable {
        var id: String
        var host: String
        var version: String
        var started_at: String
        var uptime_seconds: Double
        var config_generation: Int
        var config_loaded_at: String
        var ready: Bool
        var draining: Bool
        var service_name: String
        /// `connected` or `degraded`; nil (JSON null) without `redis:`.
        var redis: String?
    }
    struct Latency: Codable {
        var p50: Double?
        var p90: Double?
        var p99: Double?
    }
    struct StatusMix: Codable {
        var c1xx: UInt64 = 0
        var c2xx: UInt64 = 0
        var c3xx: UInt64 = 0
        var c4xx: UInt64 = 0
        var c5xx: UInt64 = 0
        enum CodingKeys: String, CodingKey {
            case c1xx = "1xx", c2xx = "2xx", c3xx = "3xx", c4xx = "4xx", c5xx = "5xx"
        }
    }
    struct Point: Codable {
        var t: Int
        var per_second: Double
        var p99_ms: Double?
        var errors_per_second: Double
    }
    struct Requests: Codable {
        var total = 0
        var active = 0
        var per_second = 0.0
        var window_seconds = 0
        var latency_ms = Latency()
        var status = StatusMix()
        var history: [Point] = []
    }
    struct Route: Codable {
        var host: String
        var route: String
        var requests: UInt64
        var per_second: Double
        var errors: UInt64
        var latency_ms: Latency
        var bytes_out: UInt64
    }
    struct Connections: Codable {
        var open = 0
        var http1 = 0
        var http2 = 0
        var accepted = 0
        var refused = 0
    }
    struct TLS: Codable {
        var handshakes = 0
        var failures = 0
        var certificate_reloads = 0
        var certificate_reload_failures = 0
    }
    struct Tracing: Codable {
        var enabled = false
        var sample_ratio = 0.0
        var sampler = ""
        var spans_sampled = 0
        var spans_dropped = 0
    }
    struct AccessLogInfo: Codable {
        var enabled = false
        var lines = 0
        var dropped = 0
    }
    /// One endpoint of a configured cluster: its state now, and its tries (total, and over the
    /// window).
    struct Upstream: Codable {
        struct Pool: Codable {
            var idle: Int
            var active: Int
        }
        var cluster: String
        var endpoint: String
        var healthy: Bool
        var ejected: Bool
        var breaker: String
        /// The cluster-wide breaker, as this instance last heard it through Redis; nil when not shared.
        var breaker_shared: String?
        var active: Int
        var connections: Pool
        var requests: UInt64
        var per_second: Double
        var errors: UInt64
        var latency_ms: Latency
    }

    var instance: Instance
    var requests = Requests()
    var routes: [Route] = []
    var upstreams: [Upstream] = []
    /// The HTTP cache: each tier's lookups and the cached routes; nil (JSON null) when no route caches.
    struct Cache: Codable {
        struct Tier: Codable {
            var hits: Int
            var misses: Int
            var hit_ratio: Double?
            var stale: Int
            var errors: Int
            var bytes: Int?
            var limit_bytes: Int?
            var entries: Int?
        }
        struct Route: Codable {
            var route: String
            var l1_hits: Int
            var l2_hits: Int
            var lookups: Int
            var hit_ratio: Double?
        }
        var l1: Tier
        var l2: Tier?
        var routes: [Route]
        var collapsed: Int
        var purges: Int
        var evictions: Int
    }
    var cache: Cache? = nil
    /// The instances sharing this one's Redis (`cluster.instance` is this one's id among them); nil without `redis:`.
    struct Cluster: Codable {
        var instance: String
        var live: Int
        var instances: [ClusterInstance]
    }
    var cluster: Cluster? = nil
    var connections = Connections()
    var tls = TLS()
    var tracing = Tracing()
    var access_log = AccessLogInfo()

    enum CodingKeys: String, CodingKey {
        case instance, requests, routes, upstreams, cache, cluster, connections, tls, tracing, access_log
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(instance, forKey: .instance)
        try c.encode(requests, forKey: .requests)
        try c.encode(routes, forKey: .routes)
        try c.encode(upstreams, forKey: .upstreams)
        if let cache { try c.encode(cache, forKey: .cache) } else { try c.encodeNil(forKey: .cache) }
        if let cluster { try c.encode(cluster, forKey: .cluster) } else { try c.encodeNil(forKey: .cluster) }
        try c.encode(connections, forKey: .connections)
        try c.encode(tls, forKey: .tls)
        try c.encode(tracing, forKey: .tracing)
        try c.encode(access_log, forKey: .access_log)
    }
}
