/// Passive outlier detection for one cluster: an endpoint that answers with a run of 5xx, or fails at the gateway
/// (connect failure, reset, timeout) several times in a row, is taken out of load balancing for a while, longer each
/// time it happens again soon.
///
/// This is Envoy's consecutive-5xx and consecutive-gateway-failure detection
/// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier and
/// `config.cluster.v3.OutlierDetection`), in its default mode where local-origin errors are not split out:
/// - A gateway failure counts towards both streaks, as Envoy maps a local connect failure or timeout to a gateway
///   5xx (503/504) that also counts as a 5xx. A 5xx that is not a gateway failure ends the gateway streak
///   (Envoy's `DetectorHostMonitorImpl::putHttpResponseCode`). Callers report a 502/503/504 *response* as
///   `.serverError` or `.gatewayFailure` as they see fit; connect failures, resets and timeouts are `.gatewayFailure`.
/// - Reaching either threshold starts both streaks afresh, whether or not the endpoint could be ejected, so a host
///   that was kept in because of the ejection cap needs a new run before it is tried again (Envoy resets the
///   counter after each ejection attempt).
/// - Results for an endpoint that is ejected are ignored: they come from requests sent before the ejection.
///
/// Pure: endpoints are indexes into the cluster's endpoint list, and every event carries the time.
/// ``isEjected(_:at:)`` is exact at any time; ``tick(at:)`` only reports which endpoints came back, for the load
/// balancer, and ``nextReturn`` says when to call it.
public struct OutlierDetector<C: Clock>: Sendable where C.Duration == Duration {
    public enum Result: Sendable, Equatable {
        case success
        /// A 5xx response.
        case serverError
        /// A connect failure, a reset, or a timeout: no usable response at all.
        case gatewayFailure
    }

    public struct Ejection: Equatable, Sendable {
        public var endpoint: Int
        public var until: C.Instant
        /// The ejection multiplier: ejections in a row, less what has decayed (the period is this times the base).
        public var count: Int
        /// Why, in words: "5 consecutive 5xx", "5 consecutive gateway failures".
        public var reason: String
    }

    /// Envoy's `OutlierDetection` defaults.
    public struct Configuration: Sendable, Equatable {
        /// `consecutive_5xx`.
        public var consecutive5xx: Int
        /// `consecutive_gateway_failure`.
        public var consecutiveGatewayFailures: Int
        /// `base_ejection_time`: the first ejection's length; the n-th in a row lasts n times this.
        public var baseEjection: Duration
        /// `max_ejection_time`: no ejection lasts longer.
        public var maxEjection: Duration
        /// `max_ejection_percent` (0...100) of the cluster's endpoints ejected at once, but see ``mayEject``.
        public var maxEjectionPercent: Int
        /// `interval`: the multiplier drops by one for each whole interval an endpoint spends back in service.
        public var decayInterval: Duration

        public init(
            consecutive5xx: Int = 5,
            consecutiveGatewayFailures: Int = 5,
            baseEjection: Duration = .seconds(30),
            maxEjection: Duration = .seconds(300),
            maxEjectionPercent: Int = 10,
            decayInterval: Duration = .seconds(10)
        ) {
            self.consecutive5xx = consecutive5xx
            self.consecutiveGatewayFailures = consecutiveGatewayFailures
            self.baseEjection = baseEjection
            self.maxEjection = maxEjection
            self.maxEjectionPercent = maxEjectionPercent
            self.decayInterval = decayInterval
        }

        /// The multiplier stops growing once the period it gives reaches the maximum (Envoy stops incrementing its
        /// backoff there), so decay starts from a period that matters rather than from an ever larger count.
        var maxCount: Int {
            Int((maxEjection / baseEjection).rounded(.up))
        }

        func validate() {
            precondition(consecutive5xx >= 1 && consecutiveGatewayFailures >= 1, "thresholds must be at least 1")
            precondition(baseEjection > .zero && maxEjection >= baseEjection, "need 0 < baseEjection <= maxEjection")
            precondition((0...100).contains(maxEjectionPercent), "maxEjectionPercent must be within 0...100")
            precondition(decayInterval > .zero, "decayInterval must be positive")
        }
    }

    private struct Endpoint: Sendable {
        var consecutive5xx = 0
        var consecutiveGatewayFailures = 0
        /// The end of the latest ejection, kept after it is over: decay counts from there.
        var ejectedUntil: C.Instant?
        /// The latest ejection's multiplier (before decay).
        var count = 0
        /// Ejected and not yet reported back by ``tick(at:)``.
        var returnPending = false

        func isEjected(at now: C.Instant) -> Bool {
            guard let ejectedUntil else { return false }
            return now < ejectedUntil
        }
    }

    public let configuration: Configuration
    private var endpoints: [Endpoint]

    public init(endpointCount: Int, _ configuration: Configuration = .init()) {
        configuration.validate()
        precondition(endpointCount >= 0)
        self.configuration = configuration
        self.endpoints = Array(repeating: Endpoint(), count: endpointCount)
    }

    public var endpointCount: Int { endpoints.count }

    /// Whether `endpoint` is out of load balancing at `now` (false for an index the cluster no longer has).
    public func isEjected(_ endpoint: Int, at now: C.Instant) -> Bool {
        endpoints.indices.contains(endpoint) && endpoints[endpoint].isEjected(at: now)
    }

    /// How many endpoints are ejected at `now`.
    public func ejectedCount(at now: C.Instant) -> Int {
        endpoints.reduce(0) { $0 + ($1.isEjected(at: now) ? 1 : 0) }
    }

    /// When the earliest ejection still to be reported by ``tick(at:)`` ends: when to arm the timer.
    public var nextReturn: C.Instant? {
        endpoints.lazy.filter(\.returnPending).compactMap(\.ejectedUntil).min()
    }

    /// The result of a request to `endpoint`; an ejection when it was the last straw.
    public mutating func record(_ endpoint: Int, _ result: Result, at now: C.Instant) -> Ejection? {
        guard endpoints.indices.contains(endpoint), !endpoints[endpoint].isEjected(at: now) else { return nil }
        switch result {
        case .success:
            endpoints[endpoint].consecutive5xx = 0
            endpoints[endpoint].consecutiveGatewayFailures = 0
            return nil
        case .serverError:
            endpoints[endpoint].consecutive5xx += 1
            endpoints[endpoint].consecutiveGatewayFailures = 0
        case .gatewayFailure:
            endpoints[endpoint].consecutive5xx += 1
            endpoints[endpoint].consecutiveGatewayFailures += 1
        }
        let state = endpoints[endpoint]
        let reason: String
        if state.consecutiveGatewayFailures >= configuration.consecutiveGatewayFailures {
            reason = "\(state.consecutiveGatewayFailures) consecutive gateway failures"
        } else if state.consecutive5xx >= configuration.consecutive5xx {
            reason = "\(state.consecutive5xx) consecutive 5xx"
        } else {
            return nil
        }
        endpoints[endpoint].consecutive5xx = 0
        endpoints[endpoint].consecutiveGatewayFailures = 0
        guard mayEject(alreadyEjected: ejectedCount(at: now)) else { return nil }
        return eject(endpoint, reason: reason, at: now)
    }

    /// The endpoints whose ejection is over by `now` and that were not reported yet, in index order.
    public mutating func tick(at now: C.Instant) -> [Int] {
        var returned: [Int] = []
        for index in endpoints.indices where endpoints[index].returnPending {
            if let until = endpoints[index].ejectedUntil, until <= now {
                endpoints[index].returnPending = false
                returned.append(index)
            }
        }
        return returned
    }

    /// The cluster's endpoint list changed length. Indexes below `count` keep their state (the caller keeps
    /// endpoints in place and appends new ones); endpoints past `count` are forgotten, new ones start clean.
    public mutating func resize(to count: Int) {
        precondition(count >= 0)
        if count < endpoints.count {
            endpoints.removeLast(endpoints.count - count)
        } else {
            endpoints.append(contentsOf: repeatElement(Endpoint(), count: count - endpoints.count))
        }
    }

    /// Whether one more endpoint may be ejected while `alreadyEjected` are.
    ///
    /// Never more than `maxEjectionPercent` of the cluster, with one exception: one endpoint may always be
    /// ejected when the cluster has more than one (Envoy: "Defaults to 10% but will eject at least one host
    /// regardless of the value"). Envoy's check is "ejected now < max percent", which can overshoot by one host
    /// (15 hosts at 10%: 1 ejected is 6.7%, so a second goes); this checks the count after the ejection, so the cap
    /// holds except for that first endpoint. A cluster of one is never ejected: Envoy would eject it and then route
    /// to it anyway in panic mode; with no panic mode here, ejecting the only endpoint turns every request into a
    /// 503 when some might have succeeded.
    func mayEject(alreadyEjected: Int) -> Bool {
        guard endpoints.count > 1 else { return false }
        if alreadyEjected == 0 { return true }
        return (alreadyEjected + 1) * 100 <= configuration.maxEjectionPercent * endpoints.count
    }

    /// Ejects `endpoint` for `baseEjection` times its multiplier, capped at `maxEjection`.
    ///
    /// Decay: Envoy decrements the multiplier on each `interval` timer at which the host is not ejected. Here it
    /// drops by one for each whole `decayInterval` between the end of the previous ejection and this one, worked
    /// out exactly when it matters (now) instead of on a timer.
    private mutating func eject(_ endpoint: Int, reason: String, at now: C.Instant) -> Ejection {
        var count = endpoints[endpoint].count
        if let previousEnd = endpoints[endpoint].ejectedUntil, previousEnd < now {
            let intervals = Int(previousEnd.duration(to: now) / configuration.decayInterval)
            count = max(0, count - intervals)
        }
        count = min(count + 1, configuration.maxCount)
        let period = min(configuration.baseEjection * count, configuration.maxEjection)
        let until = now.advanced(by: period)
        endpoints[endpoint].count = count
        endpoints[endpoint].ejectedUntil = until
        endpoints[endpoint].returnPending = true
        return Ejection(endpoint: endpoint, until: until, count: count, reason: reason)
    }
}
