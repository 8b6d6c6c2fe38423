internal import Yams

/// The `telemetry:` section.
struct TelemetryDecoder {
    let reader: ConfigReader

    func telemetry(_ node: Node) -> Configuration.Telemetry {
        var t = Configuration.Telemetry()
        guard
            let m = reader.mapping(
                node, "telemetry", allowed: ["service_name", "resource_attributes", "tracing", "metrics", "access_log", "status"]
            )
        else { return t }
        if let n = m["service_name"], let v = reader.string(n, "telemetry.service_name") {
            if v.isEmpty { reader.error(n, "telemetry.service_name", "is empty; give the service name spans carry") } else { t.serviceName = v }
        }
        if let n = m["resource_attributes"] { t.resourceAttributes = stringMap(n, "telemetry.resource_attributes") }
        if let n = m["tracing"] { t.tracing = tracing(n) }
        if let n = m["metrics"], let mm = reader.mapping(n, "telemetry.metrics", allowed: ["enabled", "exemplars"]) {
            if let n = mm["enabled"], let v = reader.bool(n, "telemetry.metrics.enabled") { t.metrics.enabled = v }
            if let n = mm["exemplars"], let v = reader.bool(n, "telemetry.metrics.exemplars") { t.metrics.exemplars = v }
        }
        if let n = m["access_log"] { t.accessLog = accessLog(n) }
        if let n = m["status"], let mm = reader.mapping(n, "telemetry.status", allowed: ["enabled"]) {
            if let n = mm["enabled"], let v = reader.bool(n, "telemetry.status.enabled") { t.status.enabled = v }
        }
        return t
    }

    private func tracing(_ node: Node) -> Configuration.Tracing {
        var t = Configuration.Tracing()
        let path = "telemetry.tracing"
        guard
            let m = reader.mapping(
                node, path,
                allowed: ["enabled", "endpoint", "sampler", "ratio", "max_queue", "max_batch", "batch_delay", "export_timeout", "headers"]
            )
        else { return t }
        // `~` keeps the automatic choice (on when an endpoint is configured).
        if let n = m["enabled"], !reader.isNull(n), let v = reader.bool(n, "\(path).enabled") { t.enabled = v }
        if let n = m["endpoint"], case .some(.some(let v)) = reader.optionalString(n, "\(path).endpoint") {
            if Self.isHTTPURL(v) {
                t.endpoint = v
            } else {
                reader.error(n, "\(path).endpoint", "'\(v)' is not an http(s) URL; give the collector's traces URL, like http://127.0.0.1:4318/v1/traces")
            }
        }
        if let n = m["sampler"], let v = reader.choice(n, "\(path).sampler", as: Configuration.Tracing.Sampler.self) { t.sampler = v }
        if let n = m["ratio"], let text = reader.string(n, "\(path).ratio") {
            if let v = Double(text), v >= 0, v <= 1 {
                t.ratio = v
            } else {
                reader.error(n, "\(path).ratio", "'\(text)' is not a ratio; expected a number from 0 to 1, like 0.01 for 1%")
            }
        }
        if let n = m["max_queue"], let v = reader.int(n, "\(path).max_queue", range: 1...1_000_000) { t.maxQueue = v }
        if let n = m["max_batch"], let v = reader.int(n, "\(path).max_batch", range: 1...100_000) { t.maxBatch = v }
        if let n = m["batch_delay"], let v = reader.duration(n, "\(path).batch_delay", range: .milliseconds(10)...(.seconds(60))) {
            t.batchDelay = v
        }
        if let n = m["export_timeout"], let v = reader.duration(n, "\(path).export_timeout", range: .milliseconds(100)...(.seconds(300))) {
            t.exportTimeout = v
        }
        if let n = m["headers"], let pairs = reader.headerPairs(n, "\(path).headers") {
            t.headers = Dictionary(pairs, uniquingKeysWith: { _, last in last })
        }
        if t.maxBatch > t.maxQueue, let n = m["max_batch"] ?? m["max_queue"] {
            reader.error(n, "\(path).max_batch", "\(t.maxBatch) exceeds max_queue \(t.maxQueue); a batch cannot be larger than the queue")
        }
        return t
    }

    private func accessLog(_ node: Node) -> Configuration.AccessLog {
        var a = Configuration.AccessLog()
        let path = "telemetry.access_log"
        guard let m = reader.mapping(node, path, allowed: ["enabled", "path", "fields", "buffer_lines"]) else { return a }
        if let n = m["enabled"], let v = reader.bool(n, "\(path).enabled") { a.enabled = v }
        if let n = m["path"], let v = reader.string(n, "\(path).path") {
            if v.isEmpty { reader.error(n, "\(path).path", "is empty; give stdout, stderr or a file path") } else { a.path = v }
        }
        if let n = m["fields"], let items = reader.sequence(n, "\(path).fields") {
            var fields: [Configuration.AccessLog.Field] = []
            for (i, item) in items.enumerated() {
                guard let f = reader.choice(item, "\(path).fields[\(i)]", as: Configuration.AccessLog.Field.self) else { continue }
                if fields.contains(f) {
                    reader.error(item, "\(path).fields[\(i)]", "'\(f.rawValue)' is listed twice; remove one")
                } else {
                    fields.append(f)
                }
            }
            if items.isEmpty { reader.error(n, "\(path).fields", "is empty; list fields or set enabled: false") }
            a.fields = fields
        }
        if let n = m["buffer_lines"], let v = reader.int(n, "\(path).buffer_lines", range: 16...10_000_000) { a.bufferLines = v }
        return a
    }

    private func stringMap(_ node: Node, _ path: String) -> [String: String] {
        guard case .mapping(let map) = node else {
            reader.error(node, path, "expected a mapping of names to values")
            return [:]
        }
        var result: [String: String] = [:]
        for (k, v) in map {
            guard let key = reader.string(k, path), let value = reader.string(v, "\(path).\(key)") else { continue }
            if value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                reader.error(v, "\(path).\(key)", "holds a control character; remove it")
                continue
            }
            result[key] = value
        }
        return result
    }

    static func isHTTPURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else { return false }
        let rest = lower.drop(while: { $0 != "/" }).dropFirst(2)
        return !rest.isEmpty && !rest.hasPrefix("/") && !text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F })
    }
}
