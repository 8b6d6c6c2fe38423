import Foundation

/// The repository's Tests/tools directory (Python peers the telemetry tests drive).
enum TestTools {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tools")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

/// A real OTLP/HTTP endpoint: `Tests/tools/otlp_receiver.py`, which decodes what Meridian exports
/// with the official OpenTelemetry protobuf definitions and writes one JSON line per span.
final class OTLPReceiver: @unchecked Sendable {  // fields set once in init
    let process: ChildProcess
    let port: Int
    let out: URL

    /// `status`: answer every export with this HTTP status; `delay`: seconds to wait before answering.
    init(status: Int? = nil, delay: Double? = nil) throws {
        out = FileManager.default.temporaryDirectory.appendingPathComponent("otlp-\(UUID().uuidString).jsonl")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        var args = [TestTools.path("otlp_receiver.py"), "--out", out.path]
        if let status { args += ["--status", String(status)] }
        if let delay { args += ["--delay", String(delay)] }
        process = try ChildProcess(["python3"] + args, mergeStderr: false)
        port = try PortPrintingProcess.readPort(process.output, name: "otlp_receiver.py")
    }

    var endpoint: String { "http://127.0.0.1:\(port)/v1/traces" }

    /// Every span received so far.
    func spans() -> [[String: Any]] {
        guard let data = try? Data(contentsOf: out) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Waits until a span satisfies `match` (spans are exported in batches, a second apart).
    func waitForSpan(timeout: Duration = .seconds(15), _ match: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let span = spans().first(where: match) { return span }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestError("no matching span within \(timeout); received: \(spans().map { $0["name"] ?? "?" })")
    }

    func stop() {
        process.signal(SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: out)
    }
}

/// `/metrics` checked by prometheus_client's own parsers (`Tests/tools/parse_metrics.py`).
enum MetricsParser {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
        var exemplar: [String: Any]?
    }

    /// Parses `text` (OpenMetrics when `openMetrics`); throws with the parser's message when invalid.
    static func parse(_ text: String, openMetrics: Bool) async throws -> [String: (type: String, samples: [Sample])] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt")
        try Data(text.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let format = openMetrics ? "openmetrics" : "text"
        let (code, out) = try await Subprocess.run(
            URL(fileURLWithPath: "/bin/sh"), ["-c", "python3 '\(TestTools.path("parse_metrics.py"))' --format \(format) < '\(file.path)'"]
        )
        guard code == 0 else { throw TestError("the \(format) parser rejected /metrics: \(out)") }
        guard let json = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
              let families = json["families"] as? [String: [String: Any]]
        else { throw TestError("parse_metrics.py printed \(out.prefix(300))") }
        var result: [String: (type: String, samples: [Sample])] = [:]
        for (name, family) in families {
            let samples = (family["samples"] as? [[String: Any]] ?? []).map { s in
                Sample(
                    name: s["name"] as? String ?? "", labels: s["labels"] as? [String: String] ?? [:],
                    value: (s["value"] as? Double) ?? Double(s["value"] as? Int ?? 0), exemplar: s["exemplar"] as? [String: Any]
                )
            }
            result[name] = (family["type"] as? String ?? "", samples)
        }
        return result
    }
}

extension TestServer {
    /// One request to the admin listener.
    func admin(_ path: String, headers: [String: String] = [:]) async throws -> TestResponse {
        var req = "GET \(path) HTTP/1.1\r\nHost: localhost\r\n"
        for (k, v) in headers { req += "\(k): \(v)\r\n" }
        return try await RawClient.exchange(port: adminPort!, req + "\r\n")
    }

    /// `/metrics` parsed by the real Prometheus parser (OpenMetrics when `openMetrics`).
    func metrics(openMetrics: Bool = false) async throws -> [String: (type: String, samples: [MetricsParser.Sample])] {
        let r = try await admin("/metrics", headers: openMetrics ? ["Accept": "application/openmetrics-text; version=1.0.0"] : [:])
        guard r.status == 200 else { throw TestError("/metrics answered \(r.status)") }
        return try await MetricsParser.parse(r.text, openMetrics: openMetrics)
    }
}
