/// A circuit breaker for one upstream endpoint: closed while the failure ratio over a rolling window stays under a
/// threshold, open (refusing at once, with a Retry-After) for an exponentially growing period once it does not, and
/// half-open afterwards, where a few probe requests decide whether it closes again or reopens for longer.
///
/// The states and the half-open probing are resilience4j's `CircuitBreakerStateMachine` (closed / open / half-open,
/// `permittedNumberOfCallsInHalfOpenState`, `minimumNumberOfCalls`, `waitIntervalFunctionInOpenState`); unlike
/// Envoy's circuit breakers, which cap concurrency, this one reacts to outcomes, as Envoy's outlier detection does
/// for a whole cluster.
///
/// Pure: the proxy reports each admission and outcome with the time it read from its clock, and acts on what comes
/// back. Inputs and outputs are plain values so that counts and transitions can be shared between instances
/// (``windowCounts(at:)``, ``evaluate(successes:failures:at:)``, ``apply(_:at:)``).
public struct CircuitBreaker<C: Clock>: Sendable where C.Duration == Duration {
    public enum State: String, Sendable, Equatable {
        case closed
        case open
        case halfOpen = "half_open"
    }

    public enum Outcome: Sendable, Equatable {
        case success
        case failure
    }

    /// What to do with a request about to go to the endpoint.
    public enum Admission: Sendable, Equatable {
        /// Send it; report its outcome with `probe: false`.
        case allowed
        /// Send it as a half-open probe; report its outcome with `probe: true`, or ``probeAbandoned()``.
        case probe
        /// Do not send it; `retryAfter` is what is left of the open period (or, in half-open with every probe in
        /// flight, ``Configuration/probeRetryAfter``), for a Retry-After header (RFC 9110 §10.2.3).
        case rejected(retryAfter: Duration)
    }

    /// A state change, for logs and metrics, and for other instances to ``apply(_:at:)``.
    public struct Transition: Equatable, Sendable {
        public var from: State
        public var to: State
        /// Why, in words: "failure ratio 0.62 over 24 requests", "probe failed", "3 probes succeeded".
        public var reason: String
        /// How long the breaker stays open, when `to` is `.open`.
        public var openFor: Duration?

        public init(from: State, to: State, reason: String, openFor: Duration? = nil) {
            self.from = from
            self.to = to
            self.reason = reason
            self.openFor = openFor
        }
    }

    public let configuration: Configuration
    public private(set) var state: State = .closed

    /// Bucket numbers count whole bucket widths since this instant.
    private let origin: C.Instant
    /// The bucket width in attoseconds, worked out once: a bucket number is then one integer division per outcome
    /// (`Duration / Duration` converts both to `Double` through generic 128-bit code, and the width itself was a
    /// division per call: ~1% of a proxied request's CPU together).
    private let bucketAttoseconds: Int128
    private var window: OutcomeWindow
    /// The end of the open period, when `state` is `.open`.
    private var openUntil: C.Instant
    /// The length of the latest open period: the next one is longer, unless the backoff has been reset.
    private var lastOpenPeriod: Duration?
    /// When the breaker last closed (or was made).
    private var closedSince: C.Instant
    private var probesInFlight = 0
    private var probeSuccesses = 0

    public init(_ configuration: Configuration = .init(), now: C.Instant) {
        configuration.validate()
        self.configuration = configuration
        self.origin = now
        self.bucketAttoseconds = max(1, configuration.bucketWidth.attoseconds)
        self.window = OutcomeWindow(buckets: configuration.windowBuckets)
        self.openUntil = now
        self.closedSince = now
    }

    /// Whether a request may go to the endpoint now. An open breaker whose period is over turns half-open here,
    /// on the first request to ask: there is no timer to fire, and no request means nothing to probe with.
    public mutating func admit(at now: C.Instant) -> Admission {
        switch state {
        case .closed:
            return .allowed
        case .open:
            if now < openUntil {
                return .rejected(retryAfter: now.duration(to: openUntil))
            }
            state = .halfOpen
            probesInFlight = 0
            probeSuccesses = 0
            return admitProbe()
        case .halfOpen:
            return admitProbe()
        }
    }

    /// What ``admit(at:)`` would answer at `now`, without taking a probe slot or leaving the open state: for a
    /// load balancer that filters endpoints before it picks one, and for the Retry-After of a 503 when nothing was
    /// admitted.
    public func peek(at now: C.Instant) -> Admission {
        switch state {
        case .closed:
            return .allowed
        case .open where now < openUntil:
            return .rejected(retryAfter: now.duration(to: openUntil))
        case .open:
            return .probe  // the period is over: admit would turn half-open with every probe slot free
        case .halfOpen:
            guard probesInFlight < configuration.maxProbes else {
                return .rejected(retryAfter: configuration.probeRetryAfter)
            }
            return .probe
        }
    }

    /// Whether ``admit(at:)`` would let a request through at `now` (as allowed or as a probe).
    public func wouldAdmit(at now: C.Instant) -> Bool {
        if case .rejected = peek(at: now) { return false }
        return true
    }

    private mutating func admitProbe() -> Admission {
        guard probesInFlight < configuration.maxProbes else {
            return .rejected(retryAfter: configuration.probeRetryAfter)
        }
        probesInFlight += 1
        return .probe
    }

    /// The outcome of a request that was admitted; `probe` says whether it was admitted as a probe.
    ///
    /// Outcomes of requests admitted before the breaker opened (still in flight when it did) change nothing: they
    /// say what was already known. A probe's outcome that arrives after the breaker closed counts as an ordinary
    /// outcome; one that arrives after the breaker reopened is dropped. Probes carry no token, so a probe from an
    /// earlier half-open spell that finishes in a later one is taken for one of the later spell's: with probes
    /// lasting a request and open periods lasting seconds, that needs a request slower than the open period.
    public mutating func record(_ outcome: Outcome, probe: Bool, at now: C.Instant) -> Transition? {
        switch state {
        case .closed:
            let current = bucket(at: now)
            window.add(failed: outcome == .failure, bucket: current)
            let counts = window.counts(bucket: current)
            return evaluate(successes: counts.successes, failures: counts.failures, at: now)
        case .halfOpen where probe:
            if probesInFlight > 0 { probesInFlight -= 1 }
            switch outcome {
            case .failure:
                return open(reason: "probe failed", at: now)
            case .success:
                probeSuccesses += 1
                guard probeSuccesses >= configuration.probesToClose else { return nil }
                return close(reason: "\(probeSuccesses) probes succeeded", at: now)
            }
        case .halfOpen, .open:
            return nil
        }
    }

    /// A probe was admitted but never produced an outcome (the client went away, the request was cancelled before
    /// it was sent): its slot is free again, and it counts neither way.
    public mutating func probeAbandoned() {
        if state == .halfOpen, probesInFlight > 0 { probesInFlight -= 1 }
    }

    /// The outcomes counted in the window that ends at `now` (zero outside `.closed`: every transition starts the
    /// count afresh).
    public func windowCounts(at now: C.Instant) -> (successes: Int, failures: Int) {
        window.counts(bucket: bucket(at: now))
    }

    /// Opens a closed breaker if `successes` and `failures` (for instance this instance's window plus the other
    /// instances') reach the failure ratio over at least the minimum number of requests. ``record(_:probe:at:)``
    /// calls this with the local counts.
    public mutating func evaluate(successes: Int, failures: Int, at now: C.Instant) -> Transition? {
        guard state == .closed else { return nil }
        let total = successes + failures
        guard total >= configuration.minimumRequests, total > 0 else { return nil }
        let ratio = Double(failures) / Double(total)
        guard ratio >= configuration.failureRatio else { return nil }
        return open(reason: "failure ratio \(Self.twoDecimals(ratio)) over \(total) requests", at: now)
    }

    /// Takes on a state another instance decided.
    ///
    /// - `.open`: open for `openFor` from `now` (the next period of this breaker's own backoff when `openFor` is
    ///   `nil`), unless this breaker is already open for longer; the applied period becomes the one the next
    ///   opening grows from, so instances that share transitions back off alike.
    /// - `.closed`: close, as if this breaker's own probes had succeeded.
    /// - `.halfOpen`: ignored. Half-open is local: each instance sends its own few probes once its open period is
    ///   over, and an instance that did not open has nothing to probe.
    public mutating func apply(_ transition: Transition, at now: C.Instant) {
        switch transition.to {
        case .open:
            let period = transition.openFor ?? nextOpenPeriod(at: now)
            let until = now.advanced(by: period)
            if state == .open, until <= openUntil { return }
            enterOpen(until: until, period: period)
        case .closed:
            guard state != .closed else { return }
            enterClosed(at: now)
        case .halfOpen:
            return
        }
    }

    // MARK: - Transitions

    private mutating func open(reason: String, at now: C.Instant) -> Transition {
        let from = state
        let period = nextOpenPeriod(at: now)
        enterOpen(until: now.advanced(by: period), period: period)
        return Transition(from: from, to: .open, reason: reason, openFor: period)
    }

    private mutating func close(reason: String, at now: C.Instant) -> Transition {
        let from = state
        enterClosed(at: now)
        return Transition(from: from, to: .closed, reason: reason)
    }

    private mutating func enterOpen(until: C.Instant, period: Duration) {
        state = .open
        openUntil = until
        lastOpenPeriod = period
        probesInFlight = 0
        probeSuccesses = 0
        window.reset()
    }

    private mutating func enterClosed(at now: C.Instant) {
        state = .closed
        closedSince = now
        probesInFlight = 0
        probeSuccesses = 0
        window.reset()
    }

    /// The open period an opening at `now` gets: the base after a long enough closed spell (or the first time),
    /// otherwise the previous period times the multiplier, capped.
    private func nextOpenPeriod(at now: C.Instant) -> Duration {
        var previous = lastOpenPeriod
        if state == .closed, closedSince.advanced(by: configuration.backoffResetAfter) <= now {
            previous = nil
        }
        return configuration.openPeriod(after: previous)
    }

    // MARK: - Helpers

    private func bucket(at now: C.Instant) -> Int {
        let elapsed = origin.duration(to: now)
        guard elapsed > .zero else { return 0 }
        return Int(elapsed.attoseconds / bucketAttoseconds)
    }

    /// `ratio` with two decimals, for the transition's reason (no Foundation for a format string).
    static func twoDecimals(_ ratio: Double) -> String {
        let hundredths = Int((ratio * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
