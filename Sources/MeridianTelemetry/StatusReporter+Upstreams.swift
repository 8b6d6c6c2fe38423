internal import MeridianProxy

extension StatusReporter {
    /// The upstream tries so far, per endpoint, for one tick.
    static func upstreamTick(_ metrics: UpstreamMetrics) -> [UpstreamMetrics.Key: RouteTick] {
        var result: [UpstreamMetrics.Key: RouteTick] = [:]
        for handle in metrics.allEndpoints() {
            let s = handle.snapshot()
            var t = RouteTick()
            t.count = UInt64(s.count)
            t.errors = UInt64(s.requests[4] + s.requests[5])  // 5xx and error
            t.buckets = s.buckets
            result[.init(cluster: handle.cluster, endpoint: handle.endpoint)] = t
        }
        return result
    }

    /// The upstreams table: every endpoint of the configured clusters, with its tries.
    static func upstreamRows(
        _ clusters: [UpstreamClusterSnapshot], latest: Tick?, base: Tick?, rate: (UInt64, UInt64) -> Double,
        latency: ([UInt64]) -> StatusDocument.Latency
    ) -> [StatusDocument.Upstream] {
        clusters.flatMap { c in
            c.endpoints.map { ep in
                let key = UpstreamMetrics.Key(cluster: c.name, endpoint: ep.key)
                let now = latest?.upstreams[key] ?? RouteTick()
                let then = base?.upstreams[key] ?? RouteTick()
                return StatusDocument.Upstream(
                    cluster: c.name, endpoint: ep.key, healthy: ep.healthy, ejected: ep.ejected, breaker: ep.breaker,
                    breaker_shared: ep.sharedBreaker, active: ep.activeRequests,
                    connections: .init(
                        idle: ep.idleConnections, active: max(0, ep.openConnections - ep.idleConnections)),
                    requests: now.count, per_second: rate(now.count, then.count), errors: now.errors,
                    latency_ms: latency(zip(now.buckets, then.buckets).map { $0 &- $1 })
                )
            }
        }
    }
}
