internal import Foundation
internal import MeridianConfig

/// Resolves the tracing settings from the `telemetry.tracing` section and the standard `OTEL_*`
/// environment variables, which win as in every OpenTelemetry SDK.
enum TracingSetup {
    struct Resolved {
        var enabled: Bool
        var endpoint: String?
        var sampler: TraceSampler
        var samplerName: String
    }

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    static func resolve(_ config: Configuration.Telemetry, environment env: [String: String]) throws -> Resolved {
        // What swift-otel will use: the traces variable verbatim, else the generic one as a base
        // URL with /v1/traces appended, else the configured URL verbatim.
        let endpoint = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
            ?? env["OTEL_EXPORTER_OTLP_ENDPOINT"].flatMap { base in
                base.isEmpty ? nil : (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/v1/traces"
            }
            ?? config.tracing.endpoint
        var enabled = config.tracing.enabled ?? (endpoint != nil)
        if env["OTEL_SDK_DISABLED"]?.lowercased() == "true" { enabled = false }
        if let exporter = env["OTEL_TRACES_EXPORTER"]?.lowercased() {
            switch exporter {
            case "none": enabled = false
            case "otlp", "": break
            default:
                throw Problem(description: "OTEL_TRACES_EXPORTER='\(exporter)' is not supported; Meridian exports OTLP/HTTP (otlp) or nothing (none)")
            }
        }
        if let proto = env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] ?? env["OTEL_EXPORTER_OTLP_PROTOCOL"], proto != "http/protobuf" {
            throw Problem(description: "OTEL_EXPORTER_OTLP_PROTOCOL='\(proto)' is not supported; Meridian exports http/protobuf only")
        }
        var sampler = config.tracing.sampler
        var ratio = config.tracing.ratio
        if let name = env["OTEL_TRACES_SAMPLER"], !name.isEmpty {
            guard let s = Configuration.Tracing.Sampler(rawValue: name.lowercased()) else {
                let all = Configuration.Tracing.Sampler.allCases.map(\.rawValue).joined(separator: ", ")
                throw Problem(description: "OTEL_TRACES_SAMPLER='\(name)' is not supported; expected one of: \(all)")
            }
            sampler = s
        }
        if let arg = env["OTEL_TRACES_SAMPLER_ARG"], !arg.isEmpty, sampler == .traceIDRatio || sampler == .parentBasedTraceIDRatio {
            guard let r = Double(arg), r >= 0, r <= 1 else {
                throw Problem(description: "OTEL_TRACES_SAMPLER_ARG='\(arg)' is not a ratio; expected a number from 0 to 1")
            }
            ratio = r
        }
        return Resolved(enabled: enabled, endpoint: endpoint, sampler: TraceSampler(sampler, ratio: ratio), samplerName: sampler.rawValue)
    }

    /// swift-otel applies `OTEL_TRACES_SAMPLER` to its own sampler too, which would sample a second
    /// time what Meridian already chose. Meridian reads the variables itself (``resolve``) and pins
    /// swift-otel's sampler to always_on before it reads the environment.
    /// Touches the environment only when a sampler variable is set (setenv races with any thread
    /// reading `environ`; at start-up nothing else is running yet).
    static func pinTracerSampler() {
        let env = ProcessInfo.processInfo.environment
        if let sampler = env["OTEL_TRACES_SAMPLER"], sampler != "always_on" { setenv("OTEL_TRACES_SAMPLER", "always_on", 1) }
        if env["OTEL_TRACES_SAMPLER_ARG"] != nil { unsetenv("OTEL_TRACES_SAMPLER_ARG") }
    }
}
