internal import Atomics
internal import MeridianCore

/// Counters of one endpoint that the event loops update and scrapes read: atomics, because the
/// pools that change them live on different loops.
final class EndpointStats: Sendable {
    let openConnections = ManagedAtomic<Int>(0)
    let idleConnections = ManagedAtomic<Int>(0)
    let activeRequests = ManagedAtomic<Int>(0)
}

/// A cluster as the metrics, the status page and `/status.json` see it at one moment.
public struct UpstreamClusterSnapshot: Sendable {
    public struct Endpoint: Sendable {
        /// `host:port` as configured.
        public var key: String
        /// Passing the active health checks (always true without them).
        public var healthy: Bool
        /// Ejected by passive outlier detection.
        public var ejected: Bool
        /// `closed`, `open` or `half_open`.
        public var breaker: String
        /// The cluster-wide breaker as last heard through Redis; nil when the cluster's breakers are not shared.
        public var sharedBreaker: String?
        public var activeRequests: Int
        public var openConnections: Int
        public var idleConnections: Int
    }

    public var name: String
    public var endpoints: [Endpoint]
    public var activeRequests: Int
    /// Retries refused because the budget was spent, since start.
    public var retryBudgetExhausted: Int
}

extension UpstreamCluster {
    public func snapshot() -> UpstreamClusterSnapshot {
        let now = MonotonicClock.now
        let (views, active, exhausted) = health.state.withLockedValue { s in
            (
                (0..<health.endpointCount).map { i in
                    (
                        s.checks.isHealthy(i), s.outliersEnabled && s.outliers.isEjected(i, at: now), s.breakers[i].state.rawValue,
                        s.shared[i].name(at: now)
                    )
                },
                s.active, s.budget.exhaustedCount
            )
        }
        let endpoints = views.enumerated().map { i, v in
            UpstreamClusterSnapshot.Endpoint(
                key: endpointKeys[i], healthy: v.0, ejected: v.1, breaker: v.2, sharedBreaker: sharing == nil ? nil : v.3,
                activeRequests: stats[i].activeRequests.load(ordering: .relaxed),
                openConnections: stats[i].openConnections.load(ordering: .relaxed),
                idleConnections: stats[i].idleConnections.load(ordering: .relaxed)
            )
        }
        return UpstreamClusterSnapshot(name: name, endpoints: endpoints, activeRequests: active, retryBudgetExhausted: exhausted)
    }
}

extension UpstreamRegistry {
    /// Every cluster's snapshot, sorted by name.
    public func snapshots() -> [UpstreamClusterSnapshot] { clusters.map { $0.snapshot() } }
}
