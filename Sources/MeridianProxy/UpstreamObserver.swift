public import NIOCore
public import MeridianCore

/// What the proxy tells telemetry: each try at an upstream (a CLIENT span and the per-endpoint
/// metrics) and the events operators watch (retries, budget exhaustion, ejections, breaker
/// transitions). Implemented by the telemetry module; calls come from the request's event loop
/// and must not block.
public protocol UpstreamObserver: AnyObject, Sendable {
    /// The observer's own state for one endpoint (its metrics handle, say): asked once per event loop and endpoint,
    /// kept by the proxy, and handed to every try at that endpoint, so a try looks nothing up by name.
    func endpointState(cluster: String, endpoint: String) -> (any Sendable)?
    /// A try is about to send its request, for a request in `trace` (`endpointState`: what
    /// ``endpointState(cluster:endpoint:)`` gave for its endpoint; `start`: when the try started, as the proxy read
    /// it; `attempt`: the try described, built only if the observer asks, for a sampled request's CLIENT span). The token's `traceparent`, when set, goes upstream (the
    /// CLIENT span's context, so the upstream's spans hang under this try).
    func tryStarted(trace: TraceContext?, endpointState: (any Sendable)?, at start: NIODeadline, attempt: () -> UpstreamAttempt)
        -> UpstreamAttemptToken
    /// The try ended at `end` (as the proxy read it): the upstream's status when a response head arrived, else nil;
    /// `error` is the `upstream_error` code (`connect_failure`, `timeout`, `reset`, `invalid_response`) or nil.
    func tryFinished(_ token: UpstreamAttemptToken, status: Int?, error: String?, at end: NIODeadline)
    func event(_ event: UpstreamEvent)
}

/// One try at an upstream endpoint, as the stable HTTP client semantic conventions describe it.
public struct UpstreamAttempt: Sendable {
    public var cluster: String
    /// `host:port` as configured.
    public var endpoint: String
    public var serverAddress: String
    public var serverPort: Int
    /// 0 for the first try, then 1, 2… (`http.request.resend_count`).
    public var resendCount: Int
    public var method: String
    /// The target sent upstream (path and query).
    public var target: String
    /// The SERVER span's context: the CLIENT span's parent.
    public var trace: TraceContext?
    /// The route pattern, for metric labels that need one.
    public var route: String

    public init(
        cluster: String, endpoint: String, serverAddress: String, serverPort: Int, resendCount: Int, method: String, target: String,
        trace: TraceContext?, route: String
    ) {
        self.cluster = cluster
        self.endpoint = endpoint
        self.serverAddress = serverAddress
        self.serverPort = serverPort
        self.resendCount = resendCount
        self.method = method
        self.target = target
        self.trace = trace
        self.route = route
    }
}

/// What an observer hands back for a try: the `traceparent` to send, and its own state (a span,
/// a start time) for ``UpstreamObserver/tryFinished(_:status:error:at:)``.
public struct UpstreamAttemptToken: Sendable {
    public var traceparent: String?
    public var state: (any Sendable)?

    public init(traceparent: String? = nil, state: (any Sendable)? = nil) {
        self.traceparent = traceparent
        self.state = state
    }
}

public enum UpstreamEvent: Sendable {
    /// A failed try is tried again on another endpoint.
    case retry(cluster: String)
    /// A retry was refused because the cluster's retry budget is spent.
    case retryBudgetExhausted(cluster: String)
    /// Passive outlier detection ejected an endpoint.
    case ejected(cluster: String, endpoint: String)
    /// An endpoint's circuit breaker changed state (`closed`, `open`, `half_open`).
    case breaker(cluster: String, endpoint: String, from: String, to: String)
}
