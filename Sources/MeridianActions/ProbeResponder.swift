public import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// Answers a probe path: 200 `ok` or 503 `<probe> check failed`, with the check list when `?verbose`.
public struct ProbeResponder: Responder {
    let registry: HealthRegistry
    let probe: HealthRegistry.Probe

    public init(registry: HealthRegistry, probe: HealthRegistry.Probe) {
        self.registry = registry
        self.probe = probe
    }

    public func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        var verbose = false
        var excluded: Set<String> = []
        for item in (request.query ?? "").split(separator: "&") {
            let kv = item.split(separator: "=", maxSplits: 1)
            if kv.first == "verbose" { verbose = true }
            if kv.first == "exclude", kv.count == 2 { excluded.insert(String(kv[1])) }
        }
        let results = registry.evaluateWithDetail(probe, excluding: excluded)
        let healthy = results.allSatisfy { $0.failure == nil }
        var body = ""
        if verbose {
            for r in results {
                // A passing check that works in a reduced way says so in its own word (`[+]redis degraded: ...`).
                let passing = r.detail.map { $0.hasPrefix("degraded") ? " \($0)" : " ok: \($0)" } ?? " ok"
                body += r.failure.map { "[-]\(r.name) failed: \($0)\n" } ?? "[+]\(r.name)\(passing)\n"
            }
            body += healthy ? "\(probe.rawValue) check passed\n" : "\(probe.rawValue) check failed\n"
        } else {
            body = healthy ? "ok\n" : "\(probe.rawValue) check failed\n"
        }
        return .immediate(
            .text(healthy ? .ok : .serviceUnavailable, body, headers: ["cache-control": "no-store"])
        )
    }
}
