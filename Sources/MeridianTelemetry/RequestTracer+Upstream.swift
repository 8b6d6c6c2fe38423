internal import MeridianCore
internal import MeridianProxy
internal import MeridianCluster
internal import Tracing

/// A sampled request's span that may have been started before the request ended (by an upstream
/// try): then the observer must record it even when it would otherwise drop the request's span.
protocol SpanStartedEarly: AnyObject, Sendable {
    var startedEarly: Bool { get }
}

/// Records the CLIENT span of each upstream try of a sampled request.
protocol UpstreamSpanRecording: Sendable {
    /// Starts the try's CLIENT span under the request's SERVER span; nil when the request is not
    /// sampled.
    func startClientSpan(_ attempt: UpstreamAttempt) -> UpstreamClientSpan?
}

/// A try's CLIENT span, from its start to its end, with the ids that go upstream and into the
/// latency exemplar.
final class UpstreamClientSpan: Sendable {
    let span: any Span
    /// The CLIENT span's own context: the request's trace id, this span's id.
    let traceparent: String
    let traceIDHigh: UInt64
    let traceIDLow: UInt64
    let spanID: UInt64

    init(span: any Span, traceparent: String, ids: TraceContext.Parent) {
        self.span = span
        self.traceparent = traceparent
        self.traceIDHigh = ids.traceIDHigh
        self.traceIDLow = ids.traceIDLow
        self.spanID = ids.spanID
    }

    /// Ends the span with the try's outcome. A CLIENT span is an error for 4xx and 5xx as well as
    /// for a try without a response (semantic conventions, HTTP client span status).
    func finish(status: Int?, errorType: String?, detail: String?) {
        span.updateAttributes { a in
            if let status { a["http.response.status_code"] = status }
            if let errorType { a["error.type"] = errorType }
        }
        if errorType != nil { span.setStatus(SpanStatus(code: .error, message: detail)) }
        span.end(at: DefaultTracerClock.now)
    }
}

extension RequestTracer: UpstreamSpanRecording {
    func startClientSpan(_ attempt: UpstreamAttempt) -> UpstreamClientSpan? {
        guard let trace = attempt.trace, trace.sampled, let pending = trace.span as? PendingSpan,
            let server = serverSpan(pending)
        else { return nil }
        let known = Self.method(attempt.method)
        let span = tracer.startSpan(
            known == "_OTHER" ? "HTTP" : known, context: server.context, ofKind: .client, at: DefaultTracerClock.now)
        span.updateAttributes { a in
            a["http.request.method"] = known
            if attempt.method != known { a["http.request.method_original"] = attempt.method }
            a["server.address"] = attempt.serverAddress
            a["server.port"] = attempt.serverPort
            // The SERVER span's rule for the query: signed-URL credentials are redacted.
            let target = attempt.target
            if let q = target.firstIndex(of: "?") {
                a["url.full"] =
                    "http://" + attempt.endpoint + target[..<q] + "?"
                    + Self.redactedQuery(target[target.index(after: q)...])
            } else {
                a["url.full"] = "http://" + attempt.endpoint + target
            }
            if attempt.resendCount > 0 { a["http.request.resend_count"] = attempt.resendCount }
            a["meridian.upstream.cluster"] = attempt.cluster
        }
        var injected = InjectedIDs()
        tracer.inject(span.context, into: &injected, using: IDInjector())
        guard let traceparent = injected.traceparent, let ids = TraceContext.parse(traceparent: traceparent) else {
            span.end()
            return nil
        }
        return UpstreamClientSpan(span: span, traceparent: traceparent, ids: ids)
    }

    /// The request's SERVER span, started now (at the request's start time) when this is the
    /// first try: its id must exist before the CLIENT span that names it as parent. Its name and
    /// attributes are set when the request is recorded. Nil once the request was recorded without
    /// one (a try cannot start after its request ended).
    func serverSpan(_ pending: PendingSpan) -> T.Span? {
        pending.early.withLockedValue { early in
            if let span = early.span { return span }
            guard !early.recorded else { return nil }
            let span = tracer.startSpan(
                "HTTP", context: parentContext(pending), ofKind: .server,
                at: DefaultTracerClock.Instant(nanosecondsSinceEpoch: pending.startNanos)
            )
            early.span = span
            return span
        }
    }

    /// The method as OpenTelemetry wants it: one of the known methods, else `_OTHER`.
    static func method(_ method: String) -> String {
        switch method {
        case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH": return method
        default: return "_OTHER"
        }
    }
}

extension RequestTracer: RedisCallTracing {
    /// A CLIENT span for a Redis call the request waits on, with the database semantic conventions
    /// (`db.system.name`, `db.operation.name`) and the policy it was for.
    func startRedisSpan(
        trace: TraceContext?, operation: String, server: (host: String, port: Int), policy: String
    ) -> (@Sendable (_ error: String?) -> Void)? {
        guard let trace, trace.sampled, let pending = trace.span as? PendingSpan, let parent = serverSpan(pending) else { return nil }
        let span = tracer.startSpan(operation, context: parent.context, ofKind: .client, at: DefaultTracerClock.now)
        span.updateAttributes { a in
            a["db.system.name"] = "redis"
            a["db.operation.name"] = operation
            a["server.address"] = server.host
            a["server.port"] = server.port
            a["meridian.ratelimit.policy"] = policy
        }
        return { error in
            if let error {
                span.updateAttributes { $0["error.type"] = error }
                span.setStatus(SpanStatus(code: .error, message: error))
            }
            span.end(at: DefaultTracerClock.now)
        }
    }
}
