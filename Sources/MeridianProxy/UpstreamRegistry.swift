public import Logging
public import MeridianConfig
public import NIOCore
internal import MeridianCore
internal import NIOConcurrencyHelpers
public import NIOPosix

/// Every upstream cluster of the running configuration. A reload keeps a cluster whose settings
/// did not change (warm pools, what its breakers learned) and retires the others once the new
/// runtime is in place. Also re-resolves DNS names on each cluster's interval, off the loops.
public final class UpstreamRegistry: Sendable {
    let group: any EventLoopGroup
    let logger: Logger
    private let current = NIOLockedValueBox<[String: UpstreamCluster]>([:])
    let observer: (any UpstreamObserver)?
    private let sharing = NIOLockedValueBox<(any BreakerSharing)?>(nil)

    public init(group: any EventLoopGroup, logger: Logger, observer: (any UpstreamObserver)? = nil) {
        self.group = group
        self.logger = logger
        self.observer = observer
    }

    /// Shares the breakers of clusters made from now on (and of the running ones, which are remade) with the other
    /// instances. Call it before the first runtime is built.
    public func enableSharing(_ sharing: any BreakerSharing) {
        self.sharing.withLockedValue { $0 = sharing }
    }

    /// The running cluster called `name`.
    public func cluster(named name: String) -> UpstreamCluster? {
        current.withLockedValue { $0[name] }
    }

    /// The clusters for `upstreams`: the running ones reused where the settings are equal, new
    /// ones made (and resolved) otherwise. Nothing changes until ``commit(_:)``.
    public func prepare(_ upstreams: [Configuration.Upstream]) throws -> [String: UpstreamCluster] {
        let running = current.withLockedValue { $0 }
        var result: [String: UpstreamCluster] = [:]
        for upstream in upstreams {
            if let existing = running[upstream.name], existing.config == upstream {
                result[upstream.name] = existing
            } else {
                let sharing = upstream.circuitBreaker.shared && upstream.circuitBreaker.enabled ? self.sharing.withLockedValue { $0 } : nil
                result[upstream.name] = try UpstreamCluster(upstream, group: group, logger: logger, observer: observer, sharing: sharing)
            }
        }
        return result
    }

    /// The runtime built from `clusters` is in place: the clusters it no longer uses retire.
    public func commit(_ clusters: [String: UpstreamCluster]) {
        let old = current.withLockedValue { current in
            defer { current = clusters }
            return current
        }
        for (name, cluster) in old where clusters[name] !== cluster { cluster.retire() }
        for cluster in clusters.values { cluster.startHealthChecks(logger: logger) }
    }

    /// Stops the health checks (the instance is shutting down).
    public func shutdown() {
        for cluster in clusters { cluster.stopHealthChecks() }
    }

    public var clusters: [UpstreamCluster] {
        current.withLockedValue { Array($0.values) }.sorted { $0.name < $1.name }
    }

    /// `api 2/3 healthy, auth 1/1 healthy`: the readiness detail. Readiness itself does not fail on
    /// an upstream's health: an instance that takes traffic answers 503 for a dead cluster and
    /// serves its other routes, where failing readiness would take every route out with it.
    public func readinessDetail() -> String? {
        let clusters = self.clusters
        guard !clusters.isEmpty else { return nil }
        return clusters.map { c in
            let h = c.healthSummary
            return "\(c.name) \(h.usable)/\(h.total) usable"
        }.joined(separator: ", ")
    }

    /// Re-resolves DNS names until cancelled, each cluster on its own interval (on the thread pool:
    /// getaddrinfo blocks).
    public func runResolver(threadPool: NIOThreadPool, logger: Logger) async {
        var last: [ObjectIdentifier: MonotonicClock.Instant] = [:]
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let now = MonotonicClock.now
            for cluster in clusters where cluster.hasNames {
                let id = ObjectIdentifier(cluster)
                if let at = last[id], at.duration(to: now) < cluster.config.resolveInterval { continue }
                last[id] = now
                _ = try? await threadPool.runIfActive { cluster.reresolve(logger: logger) }
            }
        }
    }
}
