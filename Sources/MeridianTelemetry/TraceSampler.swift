internal import MeridianConfig

/// The OpenTelemetry samplers (https://opentelemetry.io/docs/specs/otel/trace/sdk/#built-in-samplers),
/// decided before a span exists so an unsampled request costs two random numbers and nothing else.
struct TraceSampler: Sendable, Equatable {
    enum Root: Sendable, Equatable {
        case always, never
        /// Sampled when the trace id's low 64 bits fall under this threshold (TraceIdRatioBased).
        case ratio(UInt64)
    }

    let root: Root
    /// Follow the caller's sampled flag when the request carries a `traceparent`.
    let parentBased: Bool
    /// For reports: the configured ratio (1 for always_on, 0 for always_off).
    let ratio: Double

    init(_ sampler: Configuration.Tracing.Sampler, ratio: Double) {
        switch sampler {
        case .alwaysOn: (root, parentBased, self.ratio) = (.always, false, 1)
        case .alwaysOff: (root, parentBased, self.ratio) = (.never, false, 0)
        case .traceIDRatio: (root, parentBased, self.ratio) = (Self.ratioRoot(ratio), false, ratio)
        case .parentBasedAlwaysOn: (root, parentBased, self.ratio) = (.always, true, 1)
        case .parentBasedAlwaysOff: (root, parentBased, self.ratio) = (.never, true, 0)
        case .parentBasedTraceIDRatio: (root, parentBased, self.ratio) = (Self.ratioRoot(ratio), true, ratio)
        }
    }

    private static func ratioRoot(_ ratio: Double) -> Root {
        if ratio >= 1 { return .always }
        if ratio <= 0 { return .never }
        return .ratio(UInt64(ratio * 18_446_744_073_709_551_615.0))
    }

    /// Whether a span of trace `traceIDLow` is recorded, given the caller's sampled flag if any.
    func shouldSample(traceIDLow: UInt64, parentSampled: Bool?) -> Bool {
        if parentBased, let parentSampled { return parentSampled }
        switch root {
        case .always: return true
        case .never: return false
        case .ratio(let threshold): return traceIDLow < threshold
        }
    }
}
