internal import Foundation
public import MeridianCore
public import MeridianProxy
public import NIOCore

/// What telemetry does with the proxy's tries and events: a CLIENT span per try of a sampled
/// request (its context goes upstream as `traceparent`), the per-endpoint metrics, and the
/// counters of retries, budget exhaustion, ejections and breaker transitions.
///
/// Called on every proxied request from its event loop: an unsampled try costs a cast of the
/// endpoint's handle (kept by the proxy per event loop), one clock read (the try's start is the
/// proxy's), a `traceparent` string and a few relaxed atomic increments.
public final class UpstreamTelemetry: UpstreamObserver {
    let metrics: UpstreamMetrics?
    let exemplars: Bool
    let spans: (any UpstreamSpanRecording)?

    init(metrics: UpstreamMetrics?, exemplars: Bool, spans: (any UpstreamSpanRecording)?) {
        self.metrics = metrics
        self.exemplars = exemplars
        self.spans = spans
    }

    /// A try in progress: three words, so the token's `state` holds it without a heap box (the
    /// CLIENT span exists for sampled tries only).
    struct TryState: Sendable {
        let handle: UpstreamMetrics.Endpoint?
        let startedAt: UInt64
        let client: UpstreamClientSpan?
    }

    public func endpointState(cluster: String, endpoint: String) -> (any Sendable)? {
        metrics?.endpoint(cluster: cluster, endpoint: endpoint)
    }

    public func tryStarted(
        trace: TraceContext?, endpointState: (any Sendable)?, at start: NIODeadline, attempt: () -> UpstreamAttempt
    ) -> UpstreamAttemptToken {
        let handle = endpointState as? UpstreamMetrics.Endpoint
        let now = start.uptimeNanoseconds
        if let trace, trace.sampled, let client = spans?.startClientSpan(attempt()) {
            return UpstreamAttemptToken(
                traceparent: client.traceparent,
                state: TryState(handle: handle, startedAt: now, client: client)
            )
        }
        // Not sampled (or tracing off): no span is recorded, but the upstream still continues
        // the trace, under an id of its own for this try.
        let traceparent = trace.map { $0.traceparent(spanID: FastRandom.nonZero()) }
        return UpstreamAttemptToken(
            traceparent: traceparent, state: TryState(handle: handle, startedAt: now, client: nil))
    }

    public func tryFinished(_ token: UpstreamAttemptToken, status: Int?, error: String?, at end: NIODeadline) {
        guard let state = token.state as? TryState else { return }
        let nanoseconds = Int(truncatingIfNeeded: end.uptimeNanoseconds &- state.startedAt)
        var exemplar: RequestMetrics.Exemplar?
        if let client = state.client {
            client.finish(status: status, errorType: Self.errorType(status: status, error: error), detail: error)
            if exemplars {
                exemplar = RequestMetrics.Exemplar(
                    traceIDHigh: client.traceIDHigh, traceIDLow: client.traceIDLow, spanID: client.spanID,
                    value: Double(nanoseconds) / 1e9, timestamp: (Date().timeIntervalSince1970 * 1000).rounded() / 1000
                )
            }
        }
        state.handle?.record(
            statusClass: UpstreamMetrics.statusClass(status), nanoseconds: max(0, nanoseconds), exemplar: exemplar)
    }

    public func event(_ event: UpstreamEvent) {
        guard let metrics else { return }
        switch event {
        case .retry(let cluster):
            metrics.cluster(cluster).retries.wrappingIncrement(ordering: .relaxed)
        case .retryBudgetExhausted(let cluster):
            metrics.cluster(cluster).budgetExhausted.wrappingIncrement(ordering: .relaxed)
        case .ejected(let cluster, let endpoint):
            metrics.endpoint(cluster: cluster, endpoint: endpoint).ejections.wrappingIncrement(ordering: .relaxed)
        case .breaker(let cluster, let endpoint, _, let to):
            metrics.endpoint(cluster: cluster, endpoint: endpoint).breakerTransition(to: to)
        }
    }

    /// The CLIENT span's `error.type`: the status code for 4xx and 5xx (an HTTP client span's
    /// error statuses), else the proxy's `upstream_error` code when the try failed, `_OTHER` when
    /// it ended without a response and without a code (the client left), nil for success.
    static func errorType(status: Int?, error: String?) -> String? {
        if let status {
            if status >= 400 { return String(status) }
            return error  // a response that was cut short
        }
        return error ?? "_OTHER"
    }
}
