extension Configuration {
    /// Traces, metrics, the access log and the status page (the `telemetry:` section). The
    /// standard `OTEL_*` environment variables override the tracing keys, as OpenTelemetry SDKs do.
    public struct Telemetry: Sendable, Equatable {
        /// `service.name` of every span (`OTEL_SERVICE_NAME` wins).
        public var serviceName: String
        /// Extra resource attributes (`OTEL_RESOURCE_ATTRIBUTES` adds to and overrides them).
        public var resourceAttributes: [String: String]
        public var tracing: Tracing
        public var metrics: Metrics
        public var accessLog: AccessLog
        public var status: Status

        public init(
            serviceName: String = "meridian", resourceAttributes: [String: String] = [:], tracing: Tracing = Tracing(),
            metrics: Metrics = Metrics(), accessLog: AccessLog = AccessLog(), status: Status = Status()
        ) {
            self.serviceName = serviceName
            self.resourceAttributes = resourceAttributes
            self.tracing = tracing
            self.metrics = metrics
            self.accessLog = accessLog
            self.status = status
        }
    }

    public struct Tracing: Sendable, Equatable {
        /// The samplers of the OpenTelemetry specification, named as `OTEL_TRACES_SAMPLER` names them.
        public enum Sampler: String, Sendable, CaseIterable {
            case alwaysOn = "always_on"
            case alwaysOff = "always_off"
            case traceIDRatio = "traceidratio"
            case parentBasedAlwaysOn = "parentbased_always_on"
            case parentBasedAlwaysOff = "parentbased_always_off"
            case parentBasedTraceIDRatio = "parentbased_traceidratio"
        }

        /// nil: on when an endpoint is configured here or by `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`.
        public var enabled: Bool?
        /// The OTLP/HTTP traces URL, used verbatim (include `/v1/traces`).
        public var endpoint: String?
        public var sampler: Sampler
        /// The ratio of the `*traceidratio` samplers, 0...1.
        public var ratio: Double
        /// Finished spans waiting for export; more are dropped and counted.
        public var maxQueue: Int
        public var maxBatch: Int
        /// How often a batch is exported. swift-otel's processor sends one batch (`maxBatch`) per
        /// tick, and one more whenever its queue fills: `maxBatch / batchDelay` spans a second
        /// before spans are dropped (5120/s with the defaults).
        public var batchDelay: Duration
        public var exportTimeout: Duration
        /// Extra HTTP headers on export requests (authentication for a hosted collector).
        public var headers: [String: String]

        public init(
            enabled: Bool? = nil, endpoint: String? = nil, sampler: Sampler = .parentBasedTraceIDRatio, ratio: Double = 1.0,
            maxQueue: Int = 2048, maxBatch: Int = 512, batchDelay: Duration = .milliseconds(100), exportTimeout: Duration = .seconds(10),
            headers: [String: String] = [:]
        ) {
            self.enabled = enabled
            self.endpoint = endpoint
            self.sampler = sampler
            self.ratio = ratio
            self.maxQueue = maxQueue
            self.maxBatch = maxBatch
            self.batchDelay = batchDelay
            self.exportTimeout = exportTimeout
            self.headers = headers
        }
    }

    public struct Metrics: Sendable, Equatable {
        /// Serve `/metrics` on the admin listener.
        public var enabled: Bool
        /// Attach the trace id of a recent sampled request to latency buckets (OpenMetrics only).
        public var exemplars: Bool

        public init(enabled: Bool = true, exemplars: Bool = true) {
            self.enabled = enabled
            self.exemplars = exemplars
        }
    }

    public struct AccessLog: Sendable, Equatable {
        /// The fields a line may carry, in the order they are written.
        public enum Field: String, Sendable, CaseIterable {
            case timestamp, traceID = "trace_id", spanID = "span_id", requestID = "request_id", clientAddress = "client_address"
            case method, host, path, query, route, status, bytesIn = "bytes_in", bytesOut = "bytes_out"
            case durationMS = "duration_ms", upstream, cache, `protocol`, tlsVersion = "tls_version", userAgent = "user_agent"
            case referer, listener, error
        }

        public var enabled: Bool
        /// `stdout`, `stderr` or a file path (appended to; reopened on SIGUSR1 for rotation).
        public var path: String
        public var fields: [Field]
        /// Lines waiting for the writer thread; beyond this, lines are dropped and counted.
        public var bufferLines: Int

        public init(enabled: Bool = true, path: String = "stdout", fields: [Field] = Field.allCases, bufferLines: Int = 16384) {
            self.enabled = enabled
            self.path = path
            self.fields = fields
            self.bufferLines = bufferLines
        }
    }

    public struct Status: Sendable, Equatable {
        /// Serve `/status`, `/status.json` and `/status/events` on the admin listener.
        public var enabled: Bool

        public init(enabled: Bool = true) {
            self.enabled = enabled
        }
    }
}
