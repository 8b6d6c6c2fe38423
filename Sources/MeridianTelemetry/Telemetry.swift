public import Atomics
public import Foundation
public import Logging
public import MeridianConfig
public import MeridianCore
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import OTel
internal import ServiceLifecycle
internal import Tracing

/// Meridian's telemetry: the request observer that feeds metrics, spans and the access log, the
/// tracer behind `RequestTracing`, and what `/metrics` and `/status` read.
///
/// Built once per process from the `telemetry:` section and the `OTEL_*` environment; a reload
/// does not change it (the README says so).
public final class Telemetry: Sendable {
    public let config: Configuration.Telemetry
    public let requestMetrics = RequestMetrics()
    public let tracingCounters = TracingCounters()
    public let accessLog: AccessLog?
    /// Decides trace contexts; nil when tracing is off.
    public let tracing: (any RequestTracing)?
    /// What the tracing setup resolved, for logs and the status page.
    public let tracingSummary: TracingSummary
    public let observer: TelemetryObserver
    public let instanceID: String
    public let hostName: String
    public let version: String
    public let startedAt: Date
    let logger: Logger
    private let otelGroup: ServiceGroup?
    private let otelTask = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let sources = NIOLockedValueBox(Sources())
    public let reloadsSucceeded = ManagedAtomic<Int>(0)
    public let reloadsFailed = ManagedAtomic<Int>(0)
    private let reloadState = NIOLockedValueBox<(generation: Int, at: Date)>((1, Date()))
    private let reporterBox = NIOLockedValueBox<StatusReporter?>(nil)
    let statusTask = NIOLockedValueBox<[RepeatedTask]>([])

    /// Made on first use: it needs `self`.
    var statusReporter: StatusReporter {
        reporterBox.withLockedValue { r in
            if let r { return r }
            let new = StatusReporter(telemetry: self)
            r = new
            return new
        }
    }

    public struct TracingSummary: Sendable {
        public var enabled: Bool
        public var endpoint: String?
        public var sampler: String
        public var ratio: Double
    }

    /// The live objects metrics read at scrape time.
    struct Sources {
        var server: HTTPServer?
        var health: HealthRegistry?
    }

    public init(
        _ config: Configuration.Telemetry, environment: [String: String], version: String, logger: Logger
    ) throws {
        self.config = config
        self.logger = logger
        self.version = version
        self.startedAt = Date()
        var rng = SystemRandomNumberGenerator()
        self.instanceID = TraceContext.hex(rng.next())
        self.hostName = ProcessInfo.processInfo.hostName
        self.accessLog = config.accessLog.enabled ? AccessLog(config.accessLog) : nil

        let resolved = try TracingSetup.resolve(config, environment: environment)
        self.tracingSummary = TracingSummary(
            enabled: resolved.enabled, endpoint: resolved.endpoint, sampler: resolved.samplerName, ratio: resolved.sampler.ratio
        )
        var recordSpan: (@Sendable (RequestRecord, UInt64) -> (traceIDHigh: UInt64, traceIDLow: UInt64, spanID: UInt64)?)?
        if resolved.enabled {
            var otel = OTel.Configuration.default
            otel.serviceName = config.serviceName
            var attributes = config.resourceAttributes
            attributes["service.version"] = attributes["service.version"] ?? version
            attributes["service.instance.id"] = attributes["service.instance.id"] ?? instanceID
            attributes["host.name"] = attributes["host.name"] ?? hostName
            otel.resourceAttributes = attributes
            otel.logs.enabled = false
            otel.metrics.enabled = false
            otel.traces.enabled = true
            otel.traces.exporter = .otlp
            otel.traces.sampler = .alwaysOn
            otel.propagators = [.traceContext]
            otel.traces.otlpExporter.protocol = .httpProtobuf
            if let endpoint = config.tracing.endpoint { otel.traces.otlpExporter.endpoint = endpoint }
            otel.traces.otlpExporter.headers = config.tracing.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            otel.traces.otlpExporter.timeout = config.tracing.exportTimeout
            otel.traces.batchSpanProcessor.maxQueueSize = config.tracing.maxQueue
            otel.traces.batchSpanProcessor.maxExportBatchSize = config.tracing.maxBatch
            otel.traces.batchSpanProcessor.scheduleDelay = config.tracing.batchDelay
            otel.traces.batchSpanProcessor.exportTimeout = config.tracing.exportTimeout
            var diagnostics = logger
            diagnostics[metadataKey: "component"] = "swift-otel"
            let counters = tracingCounters
            otel.diagnosticLogger = .custom(Logger(label: "swift-otel") { _ in OTelDiagnosticsHandler(counters: counters, target: diagnostics) })
            otel.diagnosticLogLevel = .warning
            TracingSetup.pinTracerSampler()
            let backend = try OTel.makeTracingBackend(configuration: otel)
            let tracer = RequestTracer(tracer: backend.factory, sampler: resolved.sampler, counters: tracingCounters)
            self.tracing = tracer
            recordSpan = { tracer.record($0, endNanos: $1) }
            self.otelGroup = ServiceGroup(configuration: .init(services: [backend.service], logger: diagnostics))
        } else {
            self.tracing = nil
            self.otelGroup = nil
        }
        self.observer = TelemetryObserver(
            metrics: config.metrics.enabled || config.status.enabled ? requestMetrics : nil,
            exemplars: config.metrics.exemplars, recordSpan: recordSpan, accessLog: accessLog, counters: tracingCounters,
            maxPending: 4 * config.tracing.maxQueue
        )
    }

    /// Starts the access-log writer and the span exporter.
    public func start() throws {
        try accessLog?.start()
        if let group = otelGroup {
            let logger = self.logger
            otelTask.withLockedValue {
                $0 = Task {
                    do { try await group.run() } catch { logger.error("span exporter stopped", metadata: ["error": "\(error)"]) }
                }
            }
        }
        if tracingSummary.enabled {
            logger.info(
                "tracing on",
                metadata: [
                    "endpoint": "\(tracingSummary.endpoint ?? "default")", "sampler": "\(tracingSummary.sampler)", "ratio": "\(tracingSummary.ratio)",
                ]
            )
        }
    }

    /// Flushes the access log, then gives queued spans up to `spanDeadline` to go out (a collector
    /// that is down would otherwise hold the exit for export_timeout twice: the export under way,
    /// then the final flush).
    public func shutdown(spanDeadline: Duration = .seconds(5)) async {
        if let log = accessLog {
            // stop() waits for the writer thread: not on a cooperative thread.
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread {
                    log.stop()
                    done.resume()
                }
            }
        }
        guard let group = otelGroup, let task = otelTask.withLockedValue({ $0 }) else { return }
        await group.triggerGracefulShutdown()
        // Whichever comes first: the exporter finishing, or the deadline (then it is cancelled
        // and not waited for).
        let outcome = NIOLockedValueBox<Bool?>(nil)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let settle: @Sendable (Bool) -> Void = { finished in
                let first = outcome.withLockedValue { o -> Bool in
                    guard o == nil else { return false }
                    o = finished
                    return true
                }
                if first { done.resume() }
            }
            Task { await task.value; settle(true) }
            Task { try? await Task.sleep(for: spanDeadline); settle(false) }
        }
        if outcome.withLockedValue({ $0 }) == false {
            task.cancel()
            logger.warning("span export did not finish before the shutdown deadline; queued spans are dropped", metadata: ["deadline": "\(spanDeadline)"])
        }
    }

    public func attach(server: HTTPServer, health: HealthRegistry) {
        sources.withLockedValue {
            $0.server = server
            $0.health = health
        }
    }

    public func configReloaded(success: Bool, generation: Int) {
        if success {
            reloadsSucceeded.wrappingIncrement(ordering: .relaxed)
            reloadState.withLockedValue { $0 = (generation, Date()) }
        } else {
            reloadsFailed.wrappingIncrement(ordering: .relaxed)
        }
    }

    var configGeneration: (generation: Int, at: Date) { reloadState.withLockedValue { $0 } }
    var attached: Sources { sources.withLockedValue { $0 } }

    // MARK: - /metrics

    public func renderMetrics(openMetrics: Bool) -> String {
        var e = Exposition(openMetrics: openMetrics)
        let snapshot = requestMetrics.snapshot().sorted { a, b in
            (a.key.route, a.key.method, a.key.status, a.key.protocolVersion) < (b.key.route, b.key.method, b.key.status, b.key.protocolVersion)
        }
        let name = "http_server_request_duration_seconds"
        e.family(name, .histogram, "Duration of HTTP server requests, from the complete head to the last byte queued.", unit: "seconds")
        for (key, series) in snapshot {
            let labels = [
                ("http_request_method", key.method), ("http_route", key.route), ("http_response_status_code", String(key.status)),
                ("network_protocol_version", key.protocolVersion),
            ]
            var cumulative: UInt64 = 0
            for (i, n) in series.buckets.enumerated() {
                cumulative += n
                let le = i < RequestMetrics.bounds.count ? Exposition.format(RequestMetrics.bounds[i]) : "+Inf"
                e.sample(name + "_bucket", labels + [("le", le)], Int(cumulative), exemplar: config.metrics.exemplars ? series.exemplars[i] : nil)
            }
            e.sample(name + "_count", labels, Int(series.count))
            e.sample(name + "_sum", labels, series.sum)
        }
        var bytesIn: [String: UInt64] = [:]
        var bytesOut: [String: UInt64] = [:]
        for (key, series) in snapshot {
            bytesIn[key.route, default: 0] += series.bytesIn
            bytesOut[key.route, default: 0] += series.bytesOut
        }
        e.family("http_server_request_body_bytes", .counter, "Request body bytes received, by route.")
        for (route, n) in bytesIn.sorted(by: { $0.key < $1.key }) { e.sample("http_server_request_body_bytes_total", [("http_route", route)], Int(n)) }
        e.family("http_server_response_body_bytes", .counter, "Response body bytes sent, by route.")
        for (route, n) in bytesOut.sorted(by: { $0.key < $1.key }) { e.sample("http_server_response_body_bytes_total", [("http_route", route)], Int(n)) }

        let src = attached
        if let server = src.server {
            let s = server.services
            e.family("http_server_active_requests", .gauge, "Requests in flight.")
            e.sample("http_server_active_requests", [], s.activeRequests.load(ordering: .relaxed))
            let open = server.openConnections.load(ordering: .relaxed)
            let h1 = s.openHTTP1.load(ordering: .relaxed)
            let h2 = s.openHTTP2.load(ordering: .relaxed)
            e.family("meridian_connections_open", .gauge, "Open client connections, by protocol (negotiating: TLS handshake or protocol not settled yet).")
            e.sample("meridian_connections_open", [("protocol", "http1")], h1)
            e.sample("meridian_connections_open", [("protocol", "http2")], h2)
            e.sample("meridian_connections_open", [("protocol", "negotiating")], max(0, open - h1 - h2))
            e.family("meridian_connections_accepted", .counter, "Client connections accepted.")
            e.sample("meridian_connections_accepted_total", [], server.acceptedConnections.load(ordering: .relaxed))
            e.family("meridian_connections_refused", .counter, "Client connections closed at once: max_connections reached or draining.")
            e.sample("meridian_connections_refused_total", [], server.refusedConnections.load(ordering: .relaxed))
            e.family("meridian_connections", .counter, "Client connections by the protocol they settled on.")
            e.sample("meridian_connections_total", [("protocol", "http1")], s.totalHTTP1.load(ordering: .relaxed))
            e.sample("meridian_connections_total", [("protocol", "http2")], s.totalHTTP2.load(ordering: .relaxed))
            e.family("meridian_requests_rejected", .counter, "Requests refused by the parser or a limit, by the status answered.")
            for (i, code) in ConnectionServices.rejectionStatuses.enumerated() {
                e.sample("meridian_requests_rejected_total", [("http_response_status_code", String(code))], s.rejectedByStatus[i].load(ordering: .relaxed))
            }
            e.sample(
                "meridian_requests_rejected_total", [("http_response_status_code", "other")],
                s.rejectedByStatus[ConnectionServices.rejectionStatuses.count].load(ordering: .relaxed)
            )
            e.family("meridian_timeouts", .counter, "Connections or streams closed by a timeout, by kind.")
            for (i, kind) in ConnectionServices.timeoutKinds.enumerated() {
                e.sample("meridian_timeouts_total", [("kind", kind)], s.timeoutsByKind[i].load(ordering: .relaxed))
            }
            e.family("meridian_tls_handshakes", .counter, "Completed TLS handshakes, by protocol version.")
            for (i, v) in ConnectionServices.tlsVersions.enumerated() {
                e.sample("meridian_tls_handshakes_total", [("tls_protocol_version", v)], s.tlsHandshakes[i].load(ordering: .relaxed))
            }
            let stores = server.certificateStores
            e.family("meridian_tls_handshake_failures", .counter, "Failed TLS handshakes: rejected_sni (unknown name under unknown_sni: reject) or error.")
            e.sample("meridian_tls_handshake_failures_total", [("reason", "error")], stores.reduce(0) { $0 + $1.handshakeFailures.load(ordering: .relaxed) })
            e.sample("meridian_tls_handshake_failures_total", [("reason", "rejected_sni")], stores.reduce(0) { $0 + $1.handshakeRejections.load(ordering: .relaxed) })
            e.family("meridian_tls_certificate_reloads", .counter, "Certificate reloads from changed files, by result (a failure keeps the old certificate).")
            e.sample("meridian_tls_certificate_reloads_total", [("result", "success")], stores.reduce(0) { $0 + $1.reloads.load(ordering: .relaxed) })
            e.sample("meridian_tls_certificate_reloads_total", [("result", "failure")], stores.reduce(0) { $0 + $1.reloadFailures.load(ordering: .relaxed) })
        }
        let reload = configGeneration
        e.family("meridian_config_reloads", .counter, "Configuration reloads, by result (a failure keeps the running configuration).")
        e.sample("meridian_config_reloads_total", [("result", "success")], reloadsSucceeded.load(ordering: .relaxed))
        e.sample("meridian_config_reloads_total", [("result", "failure")], reloadsFailed.load(ordering: .relaxed))
        e.family("meridian_config_generation", .gauge, "Generation of the running configuration: 1 at start, +1 per applied reload.")
        e.sample("meridian_config_generation", [], reload.generation)
        e.family("meridian_config_last_reload_timestamp_seconds", .gauge, "When the running configuration was loaded (Unix time).")
        e.sample("meridian_config_last_reload_timestamp_seconds", [], reload.at.timeIntervalSince1970)
        e.family("meridian_build_info", .gauge, "Build information; always 1.")
        e.sample("meridian_build_info", [("version", version), ("swift_version", Self.swiftVersion)], 1)

        e.family("meridian_tracing_spans", .counter, "Requests by the sampling decision (sampled ones are recorded as spans).")
        e.sample("meridian_tracing_spans_total", [("sampled", "true")], tracingCounters.sampled.load(ordering: .relaxed))
        let sampled = tracingCounters.sampled.load(ordering: .relaxed)
        let all = tracingSummary.enabled ? src.server.map { $0.services.totalRequests.load(ordering: .relaxed) } ?? sampled : sampled
        e.sample("meridian_tracing_spans_total", [("sampled", "false")], max(0, all - sampled))
        e.family("meridian_tracing_spans_dropped", .counter, "Sampled spans never delivered: the export queue was full, or the collector failed or timed out.")
        e.sample("meridian_tracing_spans_dropped_total", [("reason", "queue_full")], tracingCounters.droppedQueueFull.load(ordering: .relaxed))
        e.sample("meridian_tracing_spans_dropped_total", [("reason", "export_failed")], tracingCounters.droppedExportFailed.load(ordering: .relaxed))
        e.family("meridian_access_log_lines", .counter, "Access-log lines queued for writing.")
        e.sample("meridian_access_log_lines_total", [], accessLog?.lines.load(ordering: .relaxed) ?? 0)
        e.family("meridian_access_log_dropped", .counter, "Access-log lines dropped because the writer fell behind.")
        e.sample("meridian_access_log_dropped_total", [], accessLog?.dropped.load(ordering: .relaxed) ?? 0)
        e.family("meridian_access_log_write_errors", .counter, "Failed writes or reopens of the access log (disk full, file gone, no permission).")
        e.sample("meridian_access_log_write_errors_total", [], accessLog?.writeErrors.load(ordering: .relaxed) ?? 0)

        let p = ProcessMetrics.read()
        e.family("process_start_time_seconds", .gauge, "Start time of the process since the Unix epoch in seconds.")
        e.sample("process_start_time_seconds", [], startedAt.timeIntervalSince1970)
        e.family("process_cpu_seconds", .counter, "Total user and system CPU time spent in seconds.")
        e.sample("process_cpu_seconds_total", [], p.cpuSeconds)
        e.family("process_resident_memory_bytes", .gauge, "Resident memory size in bytes.")
        e.sample("process_resident_memory_bytes", [], p.residentBytes)
        e.family("process_virtual_memory_bytes", .gauge, "Virtual memory size in bytes.")
        e.sample("process_virtual_memory_bytes", [], p.virtualBytes)
        e.family("process_open_fds", .gauge, "Number of open file descriptors.")
        e.sample("process_open_fds", [], p.openFDs)
        e.family("process_max_fds", .gauge, "Maximum number of open file descriptors.")
        e.sample("process_max_fds", [], p.maxFDs)
        e.family("process_threads", .gauge, "Number of OS threads in the process.")
        e.sample("process_threads", [], p.threads)
        return e.finish()
    }

    static let swiftVersion: String = {
        #if swift(>=6.3)
        return "6.3"
        #elseif swift(>=6.2)
        return "6.2"
        #else
        return "6.1"
        #endif
    }()
}

/// Hands every finished request to the metrics, the tracer and the access log.
///
/// Unsampled requests are done at once. Sampled ones wait (up to ``flushInterval``) and are done in
/// a batch by ``flushSampled()``: their span is recorded then, and their exemplar and log line use
/// the ids swift-otel gave the span.
public final class TelemetryObserver: RequestObserver {
    typealias RecordSpan = @Sendable (RequestRecord, UInt64) -> (traceIDHigh: UInt64, traceIDLow: UInt64, spanID: UInt64)?

    let metrics: RequestMetrics?
    let exemplars: Bool
    let recordSpan: RecordSpan?
    let accessLog: AccessLog?
    let counters: TracingCounters
    let maxPending: Int
    /// How often the flusher thread records the waiting sampled requests.
    static let flushInterval: UInt32 = 50_000  // µs
    private let flushing = ManagedAtomic<Bool>(false)
    private let flusherDone = ConditionLock(value: 0)

    struct Pending {
        var record: RequestRecord
        var endNanos: UInt64
        var endedAt: timespec
    }

    /// Sampled requests waiting for the flusher; `running` is false before it starts and after it
    /// stopped, and then sampled requests are completed at once (none is left behind at shutdown).
    private struct PendingState {
        var entries: [Pending] = []
        var running = false
    }

    private let pending = NIOLockedValueBox(PendingState())

    init(
        metrics: RequestMetrics?, exemplars: Bool, recordSpan: RecordSpan?, accessLog: AccessLog?, counters: TracingCounters,
        maxPending: Int
    ) {
        self.metrics = metrics
        self.exemplars = exemplars
        self.recordSpan = recordSpan
        self.accessLog = accessLog
        self.counters = counters
        self.maxPending = maxPending
    }

    public func requestStarted(_ request: Request) {}

    public func requestFinished(_ record: RequestRecord) {
        if recordSpan != nil, let trace = record.request.trace, trace.sampled {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let entry = Pending(record: record, endNanos: UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec), endedAt: now)
            let queued = pending.withLockedValue { p -> Bool? in
                guard p.running else { return nil }
                guard p.entries.count < maxPending else { return false }
                p.entries.append(entry)
                return true
            }
            switch queued {
            case true?: return
            case false?: counters.droppedQueueFull.wrappingIncrement(ordering: .relaxed)  // logged with its provisional ids
            case nil:
                complete(record, ids: recordSpan?(record, entry.endNanos), endedAt: now)
                return
            }
        }
        complete(record, ids: nil, endedAt: nil)
    }

    /// Starts the flusher thread: recording a batch of spans takes ~20 µs a span, which an event
    /// loop should not spend between two requests.
    func startFlushing() {
        let start = pending.withLockedValue { p -> Bool in
            defer { p.running = true }
            return !p.running
        }
        guard start, !flushing.exchange(true, ordering: .relaxed) else { return }
        flusherDone.lock()
        flusherDone.unlock(withValue: 0)
        let t = Thread { [self] in
            while flushing.load(ordering: .relaxed) {
                usleep(Self.flushInterval)
                flushSampled()
            }
            flushSampled()  // what queued while it slept
            flusherDone.lock()
            flusherDone.unlock(withValue: 1)
        }
        t.name = "meridian-span-flush"
        t.start()
    }

    /// Stops queueing (sampled requests ending from now on are recorded at once), lets the flusher
    /// thread record what is waiting, and waits for it. Blocks: call it off the cooperative pool.
    func stopFlushing() {
        pending.withLockedValue { $0.running = false }
        if flushing.exchange(false, ordering: .relaxed) {
            flusherDone.lock(whenValue: 1)
            flusherDone.unlock()
        }
        flushSampled()
    }

    /// Records the spans of the sampled requests that ended since the last flush, then their
    /// metrics and log lines. Runs every ``flushInterval`` on the flusher thread, and at shutdown.
    public func flushSampled() {
        let batch = pending.withLockedValue { p -> [Pending] in
            defer { p.entries.removeAll(keepingCapacity: true) }
            return p.entries
        }
        for entry in batch {
            let ids = recordSpan?(entry.record, entry.endNanos)
            complete(entry.record, ids: ids, endedAt: entry.endedAt)
        }
    }

    private func complete(_ record: RequestRecord, ids: (traceIDHigh: UInt64, traceIDLow: UInt64, spanID: UInt64)?, endedAt: timespec?) {
        if let metrics {
            let seconds = Double(record.duration.nanoseconds) / 1e9
            var exemplar: RequestMetrics.Exemplar?
            if exemplars, let ids, let endedAt {
                exemplar = .init(
                    traceIDHigh: ids.traceIDHigh, traceIDLow: ids.traceIDLow, spanID: ids.spanID, value: seconds,
                    timestamp: Double(endedAt.tv_sec) + Double(endedAt.tv_nsec / 1_000_000) / 1000
                )
            }
            let key = RequestMetrics.Key(
                route: record.route.isEmpty ? "unmatched" : record.route, method: SpanAttributes.method(record.request.method),
                status: Int(record.status.code), protocolVersion: record.request.connection.protocolVersion
            )
            metrics.record(key, seconds: seconds, bytesIn: record.bodyBytesReceived, bytesOut: record.bodyBytesSent, exemplar: exemplar)
        }
        if let accessLog {
            if let ids {
                accessLog.log(record, override: .init(traceID: (ids.traceIDHigh, ids.traceIDLow, ids.spanID), endedAt: endedAt))
            } else {
                accessLog.log(record, override: endedAt.map { .init(traceID: nil, endedAt: $0) })
            }
        }
    }
}
