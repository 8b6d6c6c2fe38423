internal import MeridianProxy

extension Telemetry {
    /// The proxy's families in `/metrics`: counters and the latency histogram from
    /// ``UpstreamMetrics`` (every configured endpoint from the start, at zero until used, so
    /// dashboards never show "no data"), gauges from the clusters as they are now.
    func renderUpstreamMetrics(_ e: inout Exposition) {
        let clusters = attached.upstreams?.snapshots() ?? []
        let metrics = upstreamMetrics
        for cluster in clusters {
            _ = metrics.cluster(cluster.name)
            for endpoint in cluster.endpoints { _ = metrics.endpoint(cluster: cluster.name, endpoint: endpoint.key) }
        }
        let handles = metrics.allEndpoints().map { ($0, $0.snapshot()) }
        func labels(_ h: UpstreamMetrics.Endpoint) -> [(String, String)] {
            [("cluster", h.cluster), ("endpoint", h.endpoint)]
        }

        e.family(
            "meridian_upstream_requests", .counter,
            "Tries at upstream endpoints, by the status class of the response (error: none came).")
        for (h, s) in handles {
            for (i, cls) in UpstreamMetrics.statusClasses.enumerated() {
                e.sample("meridian_upstream_requests_total", labels(h) + [("status_class", cls)], s.requests[i])
            }
        }
        let name = "meridian_upstream_request_duration_seconds"
        e.family(
            name, .histogram,
            "Duration of tries at upstream endpoints, from picking the endpoint to the end of the response.",
            unit: "seconds")
        for (h, s) in handles {
            var cumulative: UInt64 = 0
            for (i, n) in s.buckets.enumerated() {
                cumulative += n
                let le = i < RequestMetrics.bounds.count ? Exposition.format(RequestMetrics.bounds[i]) : "+Inf"
                e.sample(
                    name + "_bucket", labels(h) + [("le", le)], Int(cumulative),
                    exemplar: config.metrics.exemplars ? s.exemplars[i] : nil)
            }
            e.sample(name + "_count", labels(h), s.count)
            e.sample(name + "_sum", labels(h), s.sum)
        }
        e.family("meridian_upstream_ejections", .counter, "Endpoints ejected by passive outlier detection.")
        for (h, s) in handles { e.sample("meridian_upstream_ejections_total", labels(h), s.ejections) }
        e.family(
            "meridian_breaker_transitions", .counter,
            "Circuit breaker state changes, by the state entered (scope local: this instance's breaker).")
        for (h, s) in handles {
            for (i, state) in UpstreamMetrics.breakerStates.enumerated() {
                e.sample(
                    "meridian_breaker_transitions_total", labels(h) + [("scope", "local"), ("to", state)],
                    s.transitions[i])
            }
        }
        let counters = metrics.allClusters()
        e.family("meridian_upstream_retries", .counter, "Retries started on another endpoint after a failed try.")
        for c in counters {
            e.sample("meridian_upstream_retries_total", [("cluster", c.name)], c.retries.load(ordering: .relaxed))
        }
        e.family(
            "meridian_upstream_retry_budget_exhausted", .counter,
            "Retries refused because the cluster's retry budget was spent.")
        for c in counters {
            e.sample(
                "meridian_upstream_retry_budget_exhausted_total", [("cluster", c.name)],
                c.budgetExhausted.load(ordering: .relaxed))
        }

        // Gauges: the configured clusters now.
        func each(_ body: (UpstreamClusterSnapshot, UpstreamClusterSnapshot.Endpoint, [(String, String)]) -> Void) {
            for c in clusters { for ep in c.endpoints { body(c, ep, [("cluster", c.name), ("endpoint", ep.key)]) } }
        }
        e.family("meridian_upstream_active_requests", .gauge, "Tries in flight at each endpoint.")
        each { _, ep, l in e.sample("meridian_upstream_active_requests", l, ep.activeRequests) }
        e.family(
            "meridian_upstream_connections", .gauge,
            "Pooled connections to each endpoint: idle, or active (carrying a request).")
        each { _, ep, l in
            e.sample("meridian_upstream_connections", l + [("state", "idle")], ep.idleConnections)
            e.sample(
                "meridian_upstream_connections", l + [("state", "active")],
                max(0, ep.openConnections - ep.idleConnections))
        }
        e.family(
            "meridian_upstream_healthy", .gauge,
            "1 when the endpoint passes its active health checks (always 1 without them).")
        each { _, ep, l in e.sample("meridian_upstream_healthy", l, ep.healthy ? 1 : 0) }
        e.family("meridian_upstream_ejected", .gauge, "1 while passive outlier detection keeps the endpoint out.")
        each { _, ep, l in e.sample("meridian_upstream_ejected", l, ep.ejected ? 1 : 0) }
        e.family(
            "meridian_breaker_state", .gauge,
            "1 for the circuit breaker's current state, 0 for the others (scope local: this instance's breaker; shared: the cluster-wide breaker in Redis, as this instance last heard it).")
        each { _, ep, l in
            for state in UpstreamMetrics.breakerStates {
                e.sample(
                    "meridian_breaker_state", l + [("scope", "local"), ("state", state)], ep.breaker == state ? 1 : 0)
            }
            if let shared = ep.sharedBreaker {
                for state in UpstreamMetrics.breakerStates {
                    e.sample("meridian_breaker_state", l + [("scope", "shared"), ("state", state)], shared == state ? 1 : 0)
                }
            }
        }
    }
}
