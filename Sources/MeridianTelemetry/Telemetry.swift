public import Atomics
public import Foundation
public import Logging
public import MeridianConfig
public import MeridianCore
public import MeridianProxy
public import MeridianCluster
public import MeridianSecurity
public import MeridianRedis
public import MeridianCompression
public import MeridianCache
public import MeridianWebSocket
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
    /// Per cluster and endpoint: what the proxy's tries and events add up to.
    public let upstreamMetrics = UpstreamMetrics()
    /// What the proxy routes report their tries and events to (CLIENT spans, upstream metrics).
    public let upstreamObserver: UpstreamTelemetry
    /// What the Redis client reports to (round trips, reconnects, degraded mode).
    public let redisMetrics = RedisTelemetry()
    public var redisObserver: any RedisObserver { redisMetrics }
    /// CLIENT spans for the Redis calls requests wait on; nil when tracing is off.
    public let redisTracing: (any RedisCallTracing)?
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
        var upstreams: UpstreamRegistry?
        var rateLimits: RateLimitStats?
        var security: SecurityStats?
        var compression: (stats: CompressionStats, cache: VariantCache)?
        var cache: CacheStats?
        var channels: ChannelStats?
        /// Whether Redis is unreachable now; nil without `redis:`.
        var redisDegraded: (@Sendable () -> Bool)?
        /// The instances that share this one's Redis; nil without `redis:`.
        var membership: ClusterMembership?
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
        var clientSpans: (any UpstreamSpanRecording)?
        var redisSpans: (any RedisCallTracing)?
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
            redisSpans = tracer
            self.tracing = tracer
            recordSpan = { tracer.record($0, endNanos: $1) }
            clientSpans = tracer
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
        self.redisTracing = redisSpans
        self.upstreamObserver = UpstreamTelemetry(
            metrics: config.metrics.enabled || config.status.enabled ? upstreamMetrics : nil, exemplars: config.metrics.exemplars,
            spans: clientSpans
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

    /// The upstream clusters scrapes and the status page read (their health, breakers, pools).
    public func attach(upstreams: UpstreamRegistry) {
        sources.withLockedValue { $0.upstreams = upstreams }
    }

    /// The rate limits' counters.
    public func attach(rateLimits: RateLimitStats) {
        sources.withLockedValue { $0.rateLimits = rateLimits }
    }

    /// The address rules' and authenticators' counters.
    public func attach(security: SecurityStats) {
        sources.withLockedValue { $0.security = security }
    }

    /// What on-the-fly compression did.
    public func attach(compression stats: CompressionStats, cache: VariantCache) {
        sources.withLockedValue { $0.compression = (stats, cache) }
    }

    /// What the HTTP cache did.
    public func attach(cache: CacheStats) {
        sources.withLockedValue { $0.cache = cache }
    }

    /// What the WebSocket and SSE channels did.
    public func attach(channels: ChannelStats) {
        sources.withLockedValue { $0.channels = channels }
    }

    /// Redis's state, when `redis:` is configured.
    public func attach(redis degraded: @escaping @Sendable () -> Bool) {
        sources.withLockedValue { $0.redisDegraded = degraded }
    }

    /// The cluster seen through Redis: the status page's instance list and `meridian_cluster_instances`.
    public func attach(membership: ClusterMembership) {
        sources.withLockedValue { $0.membership = membership }
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
