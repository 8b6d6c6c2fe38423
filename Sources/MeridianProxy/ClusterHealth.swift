internal import MeridianConfig
internal import MeridianCore
internal import NIOConcurrencyHelpers

/// What one instance knows about a cluster's endpoints: circuit breakers, passive outlier
/// ejections, active health-check results, the retry budget and the concurrency caps. Shared by
/// the event loops under one lock, taken twice per proxied request (pick and admit, then the
/// outcome) and only to change state: the machines are pure and decide in nanoseconds. One
/// instance-wide view is what the shared-breaker work feeds from Redis.
final class ClusterHealth: Sendable {
    typealias Clock = MonotonicClock

    struct State {
        var breakers: [CircuitBreaker<Clock>]
        var outliers: OutlierDetector<Clock>
        var checks: HealthCheckState
        var budget: RetryBudget
        var active = 0
        var pending = 0
        var breakersEnabled: Bool
        var outliersEnabled: Bool
        /// Per endpoint: the cluster-wide breaker as last heard through Redis.
        var shared: [SharedBreakerState]
        /// Per endpoint: the local breaker is open because the cluster opened it (its probes need tokens).
        var sharedOpened: [Bool]
        /// Per endpoint: cluster-wide probe tokens this instance holds.
        var probePermits: [Int]

        /// Whether a request may be sent to `endpoint` now: healthy by the active checks, not
        /// ejected, and its breaker would admit (closed, or open with its period over).
        func isUsable(_ endpoint: Int, at now: Clock.Instant) -> Bool {
            withUnsafePointer(to: self) { Self.isUsable(endpoint, in: $0, at: now) }
        }

        /// ``isUsable(_:at:)`` reading the state where it is.
        static func isUsable(_ endpoint: Int, in s: UnsafePointer<State>, at now: Clock.Instant) -> Bool {
            guard s.pointee.checks.isHealthy(endpoint) else { return false }
            if s.pointee.outliersEnabled, s.pointee.outliers.isEjected(endpoint, at: now) { return false }
            // (In place through a pointer: the array's subscript copied the breaker, its window's array retained.)
            if s.pointee.breakersEnabled,
                !s.pointee.breakers.withUnsafeBufferPointer({ ($0.baseAddress! + endpoint).pointee.wouldAdmit(at: now) })
            {
                return false
            }
            return true
        }
    }

    let state: NIOLockedValueBox<State>
    let endpointCount: Int
    let maxActive: Int
    let maxPending: Int

    init(_ config: Configuration.Upstream, endpointCount: Int, now: Clock.Instant = .now) {
        let b = config.circuitBreaker
        let breakerConfig = CircuitBreaker<Clock>.Configuration(
            failureRatio: b.failureRatio, minimumRequests: b.minimumRequests, window: b.window, openBase: b.openFor,
            openMax: b.maxOpenFor, maxProbes: b.maxProbes
        )
        let o = config.outlierDetection
        let outlierConfig = OutlierDetector<Clock>.Configuration(
            consecutive5xx: o.consecutive5xx, consecutiveGatewayFailures: o.consecutiveGatewayFailures, baseEjection: o.baseEjection,
            maxEjection: o.maxEjection, maxEjectionPercent: o.maxEjectionPercent
        )
        let checks = HealthCheckState.Configuration(
            healthyThreshold: config.healthCheck?.healthyThreshold ?? 1, unhealthyThreshold: config.healthCheck?.unhealthyThreshold ?? 1
        )
        let budget = RetryBudget.Configuration(budgetPercent: config.retries.budgetPercent, minRetryConcurrency: config.retries.minConcurrency)
        self.state = NIOLockedValueBox(
            State(
                breakers: (0..<endpointCount).map { _ in CircuitBreaker(breakerConfig, now: now) },
                outliers: OutlierDetector(endpointCount: endpointCount, outlierConfig),
                checks: HealthCheckState(endpointCount: endpointCount, checks),
                budget: RetryBudget(budget),
                breakersEnabled: b.enabled,
                outliersEnabled: o.enabled,
                shared: Array(repeating: .closed, count: endpointCount),
                sharedOpened: Array(repeating: false, count: endpointCount),
                probePermits: Array(repeating: 0, count: endpointCount)
            )
        )
        self.endpointCount = endpointCount
        self.maxActive = config.maxActive
        self.maxPending = config.maxPending
    }

    /// Endpoints usable now, and how many pass the active checks: for `/readyz?verbose` and the status page.
    func counts(at now: Clock.Instant = .now) -> (usable: Int, healthy: Int, total: Int) {
        state.withLockedValue { s in
            ((0..<endpointCount).filter { s.isUsable($0, at: now) }.count, s.checks.healthyCount, endpointCount)
        }
    }
}
