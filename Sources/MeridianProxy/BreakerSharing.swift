public import MeridianCore
public import NIOCore

/// One endpoint's breaker, as the cluster-wide coordinator names it.
public struct SharedBreakerID: Hashable, Sendable {
    public let cluster: UpstreamCluster
    public let endpoint: Int

    public init(cluster: UpstreamCluster, endpoint: Int) {
        self.cluster = cluster
        self.endpoint = endpoint
    }

    public var clusterName: String { cluster.name }
    public var endpointKey: String { cluster.endpointKeys[endpoint] }

    public static func == (a: Self, b: Self) -> Bool { a.cluster === b.cluster && a.endpoint == b.endpoint }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(cluster))
        hasher.combine(endpoint)
    }
}

/// What the proxy tells the instances' shared breakers, and asks of them. MeridianCluster implements it on Redis;
/// without Redis there is none and every breaker is local.
public protocol BreakerSharing: Sendable {
    /// Redis is reachable: shared rules apply (probe tokens). While it is not, every breaker acts alone.
    var isActive: Bool { get }
    /// The outcome of one try (on the request's event loop: must be cheap, the coordinator batches).
    func record(_ id: SharedBreakerID, failed: Bool, on eventLoop: any EventLoop)
    /// The verdict of a half-open probe sent with a cluster-wide token: the cluster closes the breaker once
    /// `max_probes` probes from any instances succeeded, and reopens it (with backoff) on the first failure.
    func probeResult(_ id: SharedBreakerID, success: Bool)
    /// A half-open probe needs a cluster-wide token and this instance holds none: ask for one in the background
    /// (``UpstreamCluster/grantProbes(endpoint:count:)`` hands it over).
    func requestProbe(_ id: SharedBreakerID)
}

/// The cluster-wide view of one endpoint's breaker, as the instance last heard it.
public enum SharedBreakerState: Sendable, Equatable {
    case closed
    case open(until: MonotonicClock.Instant)

    func name(at now: MonotonicClock.Instant) -> String {
        switch self {
        case .closed: return "closed"
        case .open(let until): return now < until ? "open" : "half_open"
        }
    }
}

extension UpstreamCluster {
    /// Takes on a transition decided across the cluster (heard on the breakers channel).
    /// - `.open`: the local breaker opens for `openFor` (or stays open if longer), and its half-open probes will
    ///   need cluster-wide tokens.
    /// - `.closed`: the probes somewhere succeeded; the local breaker closes.
    public func applyShared(endpoint: Int, to state: CircuitBreaker<MonotonicClock>.State, openFor: Duration?, reason: String) {
        guard endpoint >= 0, endpoint < health.endpointCount else { return }
        let now = MonotonicClock.now
        let change: (from: String, to: String)? = health.state.withLockedValue { s in
            guard s.breakersEnabled else { return nil }
            let before = s.breakers[endpoint].state
            switch state {
            case .open:
                let period = openFor ?? s.breakers[endpoint].configuration.openBase
                s.breakers[endpoint].apply(.init(from: .closed, to: .open, reason: reason, openFor: period), at: now)
                s.shared[endpoint] = .open(until: now.advanced(by: period))
                s.sharedOpened[endpoint] = true
                s.probePermits[endpoint] = 0
            case .closed:
                s.breakers[endpoint].apply(.init(from: .halfOpen, to: .closed, reason: reason), at: now)
                s.shared[endpoint] = .closed
                s.sharedOpened[endpoint] = false
                s.probePermits[endpoint] = 0
            case .halfOpen:
                return nil
            }
            let after = s.breakers[endpoint].state
            return before == after ? nil : (before.rawValue, after.rawValue)
        }
        if let change {
            observer?.event(.breaker(cluster: name, endpoint: endpointKeys[endpoint], from: change.from, to: change.to))
            logger.warning(
                "circuit breaker \(change.from) -> \(change.to) (shared)",
                metadata: ["cluster": "\(name)", "endpoint": "\(endpointKeys[endpoint])", "reason": "\(reason)"]
            )
        }
    }

    /// Cluster-wide probe tokens arrived for `endpoint`.
    public func grantProbes(endpoint: Int, count: Int) {
        guard endpoint >= 0, endpoint < health.endpointCount, count > 0 else { return }
        health.state.withLockedValue { $0.probePermits[endpoint] += count }
    }

    /// The index of the endpoint configured as `key` (`host:port`).
    public func endpointIndex(of key: String) -> Int? {
        endpointKeys.firstIndex(of: key)
    }
}
