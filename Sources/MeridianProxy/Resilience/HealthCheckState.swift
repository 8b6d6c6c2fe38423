/// The verdicts of active health checks for one cluster's endpoints: an endpoint changes side only after several
/// checks in a row agree, so one slow answer does not take it out and one lucky answer does not bring it back.
///
/// Envoy's `config.core.v3.HealthCheck` `healthy_threshold` and `unhealthy_threshold`
/// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/health_checking). The checker (a
/// `Service` that sends the requests) owns the timing and the I/O; this holds only the counting, so it needs no
/// clock.
///
/// Initial state: healthy by default, unlike Envoy, which holds a new host out until its first check passes. A
/// proxy that starts (or reloads its config) should serve at once rather than answer 503 for a check interval, and
/// passive outlier detection takes a dead endpoint out after a few requests anyway. With `initiallyHealthy: false`
/// Envoy's behaviour applies in full, including its startup rule: an endpoint never checked yet needs a single pass,
/// not `healthyThreshold` ("during startup, only a single successful health check is required to mark a host
/// healthy").
public struct HealthCheckState: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Passes in a row that bring an unhealthy endpoint back.
        public var healthyThreshold: Int
        /// Failures in a row that take a healthy endpoint out.
        public var unhealthyThreshold: Int
        /// The state of an endpoint before its first check (at start, and when one is added).
        public var initiallyHealthy: Bool

        public init(healthyThreshold: Int = 2, unhealthyThreshold: Int = 3, initiallyHealthy: Bool = true) {
            precondition(healthyThreshold >= 1 && unhealthyThreshold >= 1, "thresholds must be at least 1")
            self.healthyThreshold = healthyThreshold
            self.unhealthyThreshold = unhealthyThreshold
            self.initiallyHealthy = initiallyHealthy
        }
    }

    /// An endpoint changed side.
    public struct Change: Equatable, Sendable {
        public var endpoint: Int
        public var healthy: Bool

        public init(endpoint: Int, healthy: Bool) {
            self.endpoint = endpoint
            self.healthy = healthy
        }
    }

    /// Which responses to a health check request pass.
    ///
    /// 200...399 by default: a health endpoint that redirects (to a login page, to add a slash) is up. Envoy's
    /// `expected_statuses` defaults to 200 only; configure `[200...200]` for that.
    public struct Expectation: Sendable, Equatable {
        public var statuses: [ClosedRange<Int>]

        public init(statuses: [ClosedRange<Int>] = [200...399]) {
            self.statuses = statuses
        }

        public func passes(status: Int) -> Bool {
            statuses.contains { $0.contains(status) }
        }
    }

    private struct Endpoint: Sendable {
        var healthy: Bool
        var checked = false
        var passes = 0
        var failures = 0
    }

    public let configuration: Configuration
    private var endpoints: [Endpoint]

    public init(endpointCount: Int, _ configuration: Configuration = .init()) {
        precondition(endpointCount >= 0)
        self.configuration = configuration
        self.endpoints = Array(repeating: Endpoint(healthy: configuration.initiallyHealthy), count: endpointCount)
    }

    public var endpointCount: Int { endpoints.count }

    public var healthyCount: Int {
        endpoints.reduce(0) { $0 + ($1.healthy ? 1 : 0) }
    }

    /// Whether `endpoint` is healthy (false for an index the cluster no longer has).
    public func isHealthy(_ endpoint: Int) -> Bool {
        endpoints.indices.contains(endpoint) && endpoints[endpoint].healthy
    }

    /// A check of `endpoint` finished; a change when it tipped the endpoint over a threshold. A result for an
    /// index the cluster no longer has (a check that outlived a resize) is ignored.
    public mutating func record(_ endpoint: Int, passed: Bool) -> Change? {
        guard endpoints.indices.contains(endpoint) else { return nil }
        var state = endpoints[endpoint]
        defer { endpoints[endpoint] = state }
        let firstCheck = !state.checked
        state.checked = true
        if passed {
            state.passes += 1
            state.failures = 0
            guard !state.healthy, firstCheck || state.passes >= configuration.healthyThreshold else { return nil }
            state.healthy = true
        } else {
            state.failures += 1
            state.passes = 0
            guard state.healthy, state.failures >= configuration.unhealthyThreshold else { return nil }
            state.healthy = false
        }
        return Change(endpoint: endpoint, healthy: state.healthy)
    }

    /// The endpoint list changed length: indexes below `count` keep their state, new endpoints start in the
    /// initial state, unchecked.
    public mutating func resize(to count: Int) {
        precondition(count >= 0)
        if count < endpoints.count {
            endpoints.removeLast(endpoints.count - count)
        } else {
            let fresh = Endpoint(healthy: configuration.initiallyHealthy)
            endpoints.append(contentsOf: repeatElement(fresh, count: count - endpoints.count))
        }
    }

    /// How long to wait before the next check: `interval` plus a uniform random part of `jitter` (both ends
    /// included), so that many proxies started together do not check in lockstep (Envoy's `interval_jitter`).
    /// Nanosecond resolution; a zero or negative jitter adds nothing.
    public static func nextDelay(
        interval: Duration,
        jitter: Duration,
        random: inout some RandomNumberGenerator
    ) -> Duration {
        guard jitter > .zero else { return interval }
        let (seconds, attoseconds) = jitter.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        return interval + .nanoseconds(Int64.random(in: 0...nanoseconds, using: &random))
    }
}
