public import Atomics
internal import Instrumentation
internal import MeridianCore
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOHTTP1
internal import Tracing

/// Counts what tracing did, for `/metrics` and `/status`.
public final class TracingCounters: Sendable {
    /// Sampled requests; the unsampled ones are all other requests (not counted separately: one
    /// shared atomic per request is enough).
    public let sampled = ManagedAtomic<Int>(0)
    /// Spans the batch processor dropped because its queue was full.
    public let droppedQueueFull = ManagedAtomic<Int>(0)
    /// Spans in batches the collector refused or that timed out.
    public let droppedExportFailed = ManagedAtomic<Int>(0)

    public init() {}
}

/// Decides the trace context of every request and records a SERVER span for the sampled ones
/// through swift-otel's tracer.
///
/// The sampling decision is made here, before the tracer is called: an unsampled request costs a
/// `traceparent` parse (when present) and two random numbers, no allocation and no lock. The tracer
/// itself runs with `always_on` and only ever sees requests already chosen for recording.
final class RequestTracer<T: Tracer>: RequestTracing, Sendable {
    let tracer: T
    let sampler: TraceSampler
    let counters: TracingCounters
    init(tracer: T, sampler: TraceSampler, counters: TracingCounters) {
        self.tracer = tracer
        self.sampler = sampler
        self.counters = counters
    }

    /// A sampled request's span until it is recorded: when and under which parent it began.
    final class PendingSpan: SpanStartedEarly {
        let startNanos: UInt64
        let parent: TraceContext.Parent?
        let traceState: String?
        /// The SERVER span when an upstream try needed its ids before the request ended (a CLIENT
        /// span's parent must be the SERVER span's real id, and swift-otel picks ids when a span
        /// starts); `recorded` once ``RequestTracer/record(_:endNanos:)`` took it.
        let early = NIOLockedValueBox<(span: T.Span?, recorded: Bool)>((nil, false))

        init(startNanos: UInt64, parent: TraceContext.Parent?, traceState: String?) {
            self.startNanos = startNanos
            self.parent = parent
            self.traceState = traceState
        }

        var startedEarly: Bool { early.withLockedValue { $0.span != nil } }
    }

    func begin(_ fields: RequestFields, connection: ConnectionInfo) -> TraceContext {
        let parent = fields.first(name: "traceparent").flatMap { TraceContext.parse(traceparent: $0) }
        var traceState: String?
        if parent != nil {
            // Several tracestate fields form one list (W3C §3.3.1); an invalid list is dropped whole.
            let states = fields["tracestate"]
            if !states.isEmpty {
                let joined = states.count == 1 ? states[0] : states.joined(separator: ",")
                if TraceContext.isValidTraceState(joined) { traceState = joined }
            }
        }
        let high = parent?.traceIDHigh ?? FastRandom.next()
        let low = parent?.traceIDLow ?? FastRandom.nonZero()
        guard sampler.shouldSample(traceIDLow: low, parentSampled: parent?.sampled) else {
            return TraceContext(
                traceIDHigh: high, traceIDLow: low, spanID: FastRandom.nonZero(), parentSpanID: parent?.spanID ?? 0,
                sampled: false, traceState: traceState
            )
        }
        counters.sampled.wrappingIncrement(ordering: .relaxed)
        return TraceContext(
            traceIDHigh: high, traceIDLow: low, spanID: FastRandom.nonZero(), parentSpanID: parent?.spanID ?? 0,
            sampled: true, traceState: traceState,
            span: PendingSpan(startNanos: DefaultTracerClock.now.nanosecondsSinceEpoch, parent: parent, traceState: traceState)
        )
    }

    /// Records the SERVER span of a sampled request that has ended, with its real start and end
    /// times, and answers the ids swift-otel gave it (a new trace's id is swift-otel's).
    ///
    /// Called in batches (``TelemetryObserver/flushSampled()``), not when each request ends: every span
    /// swift-otel records wakes its tracer and processor tasks, and at 1% sampling those wake-ups,
    /// one span at a time, cost more than the spans (0.85x of tracing off, against 0.97x with
    /// nothing sampled). Recorded a batch at a time, the tasks wake once per batch.
    func record(_ record: RequestRecord, endNanos: UInt64) -> (traceIDHigh: UInt64, traceIDLow: UInt64, spanID: UInt64)? {
        guard let trace = record.request.trace, let pending = trace.span as? PendingSpan else { return nil }
        let request = record.request
        let connection = request.connection
        // An unknown method names the span `HTTP` (semantic conventions: `_OTHER` is for the attribute).
        let known = SpanAttributes.method(request.method)
        let method = known == "_OTHER" ? "HTTP" : known
        let name = record.route.isEmpty ? method : method + " " + record.route
        let early = pending.early.withLockedValue { e -> T.Span? in
            e.recorded = true
            return e.span
        }
        let span: T.Span
        if let early {
            span = early
            span.operationName = name
        } else {
            span = tracer.startSpan(
                name, context: parentContext(pending), ofKind: .server,
                at: DefaultTracerClock.Instant(nanosecondsSinceEpoch: pending.startNanos)
            )
        }
        let code = Int(record.status.code)
        span.updateAttributes { a in
            a["http.request.method"] = known
            if request.method.rawValue != known { a["http.request.method_original"] = request.method.rawValue }
            let uri = request.uri
            if let q = uri.firstIndex(of: "?") {
                a["url.path"] = String(uri[..<q])
                a["url.query"] = Self.redactedQuery(uri[uri.index(after: q)...])
            } else {
                a["url.path"] = uri
            }
            a["url.scheme"] = connection.scheme
            a["network.protocol.name"] = "http"
            a["network.protocol.version"] = connection.protocolVersion
            if let host = request.fields.first(name: "host") {
                let (name, port) = Self.splitHost(host)
                a["server.address"] = name
                if let port { a["server.port"] = port }
            }
            if a["server.port"] == nil, let port = connection.localAddress?.port { a["server.port"] = port }
            if let ip = connection.remoteAddress?.ipAddress {
                a["client.address"] = ip
                a["network.peer.address"] = ip
                if let port = connection.remoteAddress?.port { a["network.peer.port"] = port }
            }
            if let agent = request.fields.first(name: "user-agent") { a["user_agent.original"] = agent }
            if let tls = connection.tlsVersion { a["tls.protocol.version"] = tls }
            if !record.route.isEmpty { a["http.route"] = record.route }
            a["http.response.status_code"] = code
            if record.bodyBytesReceived > 0 { a["http.request.body.size"] = record.bodyBytesReceived }
            a["http.response.body.size"] = record.bodyBytesSent
            a["meridian.request_id"] = request.id
            // What actions added to the record, as `meridian.<name>` (the upgrade protocol, the proxy's upstream_*).
            for (name, value) in record.annotations.all {
                switch value {
                case let n as Int: a["meridian.\(name)"] = n
                case let x as Double: a["meridian.\(name)"] = x
                case let text as String: a["meridian.\(name)"] = text
                default: a["meridian.\(name)"] = String(describing: value)
                }
            }
            if code >= 500 {
                a["error.type"] = String(code)
            } else if record.error != nil {
                a["error.type"] = "_OTHER"  // e.g. the client closed the connection before the response ended
            }
        }
        for event in record.annotations.events {
            var attributes = SpanAttributes()
            for (name, value) in event.attributes {
                switch value {
                case .string(let v): attributes[name] = v
                case .int(let v): attributes[name] = v
                case .strings(let v): attributes[name] = v
                }
            }
            span.addEvent(SpanEvent(name: event.name, at: DefaultTracerClock.Instant(nanosecondsSinceEpoch: event.time), attributes: attributes))
        }
        // Server spans: 5xx is an error; 4xx is the client's (status left unset).
        if code >= 500 { span.setStatus(SpanStatus(code: .error, message: record.error)) }
        var injected = InjectedIDs()
        tracer.inject(span.context, into: &injected, using: IDInjector())
        span.end(at: DefaultTracerClock.Instant(nanosecondsSinceEpoch: max(endNanos, pending.startNanos)))
        guard let ids = injected.traceparent.flatMap({ TraceContext.parse(traceparent: $0) }) else { return nil }
        return (ids.traceIDHigh, ids.traceIDLow, ids.spanID)
    }

    /// The context a sampled request's SERVER span starts in: the caller's, when it sent a
    /// `traceparent`.
    func parentContext(_ pending: PendingSpan) -> ServiceContext {
        var context = ServiceContext.topLevel
        if let parent = pending.parent {
            // The tracer sees only a canonical traceparent rebuilt from what was parsed and a
            // validated tracestate, never the request's headers (its extractor logs the whole
            // carrier when it dislikes a value).
            let canonical = TraceContext(
                traceIDHigh: parent.traceIDHigh, traceIDLow: parent.traceIDLow, spanID: parent.spanID, sampled: parent.sampled
            ).traceparent()
            tracer.extract(ParentCarrier(traceparent: canonical, tracestate: pending.traceState), into: &context, using: ParentExtractor())
        }
        return context
    }

    /// The query with the values of the parameters the semantic conventions name as sensitive
    /// (signed-URL credentials) replaced by `REDACTED`.
    static func redactedQuery(_ query: Substring) -> String {
        let sensitive: Set<String> = ["awsaccesskeyid", "signature", "sig", "x-goog-signature"]
        guard query.contains("=") else { return String(query) }
        var changed = false
        let parts = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> Substring in
            guard let eq = pair.firstIndex(of: "="), sensitive.contains(pair[..<eq].lowercased()) else { return pair }
            changed = true
            return pair[...eq] + "REDACTED"
        }
        return changed ? parts.joined(separator: "&") : String(query)
    }

    /// `example.com:8443` -> (`example.com`, 8443); `[::1]:80` -> (`::1`, 80).
    static func splitHost(_ host: String) -> (String, Int?) {
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let name = String(host[host.index(after: host.startIndex)..<close])
            let rest = host[host.index(after: close)...]
            return (name, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        if let colon = host.lastIndex(of: ":") {
            return (String(host[..<colon]), Int(host[host.index(after: colon)...]))
        }
        return (host, nil)
    }
}

extension SpanAttributes {
    /// The method as OpenTelemetry wants it: one of the known methods, else `_OTHER`.
    static func method(_ method: HTTPMethod) -> String {
        switch method {
        case .GET, .HEAD, .POST, .PUT, .DELETE, .CONNECT, .OPTIONS, .TRACE, .PATCH: return method.rawValue
        default: return "_OTHER"
        }
    }
}

struct ParentCarrier: Sendable {
    var traceparent: String
    var tracestate: String?
}

struct ParentExtractor: Extractor {
    func extract(key: String, from carrier: ParentCarrier) -> String? {
        switch key {
        case "traceparent": return carrier.traceparent
        case "tracestate": return carrier.tracestate
        default: return nil
        }
    }
}

struct InjectedIDs: Sendable {
    var traceparent: String?
}

struct IDInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout InjectedIDs) {
        if key == "traceparent" { carrier.traceparent = value }
    }
}
