/// Writes the Prometheus text format 0.0.4 or OpenMetrics 1.0 (which alone carries exemplars).
///
/// The two differ in small ways this type hides: OpenMetrics names a counter family without its
/// `_total` suffix, allows exemplars on buckets and counters only, and ends with `# EOF`.
struct Exposition {
    enum Kind: String {
        case counter, gauge, histogram
    }

    let openMetrics: Bool
    private(set) var text = ""

    init(openMetrics: Bool) {
        self.openMetrics = openMetrics
        text.reserveCapacity(16 * 1024)
    }

    static let openMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    static let textContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Whether an `Accept` header asks for OpenMetrics (as Prometheus does when it can ingest
    /// exemplars) over the classic text format.
    static func prefersOpenMetrics(_ accept: String?) -> Bool {
        guard let accept else { return false }
        var best: (om: Double, text: Double) = (0, 0)
        for item in accept.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: " \t") }
            guard let type = parts.first?.lowercased() else { continue }
            var q = 1.0
            for p in parts.dropFirst() where p.lowercased().hasPrefix("q=") { q = Double(p.dropFirst(2)) ?? 0 }
            if type == "application/openmetrics-text" { best.om = max(best.om, q) }
            if type == "text/plain" || type == "*/*" { best.text = max(best.text, q) }
        }
        return best.om > 0 && best.om >= best.text
    }

    /// HELP and TYPE of a family. `name` is the sample name without `_total` for counters.
    mutating func family(_ name: String, _ kind: Kind, _ help: String, unit: String? = nil) {
        let familyName = kind == .counter && !openMetrics ? name + "_total" : name
        text += "# HELP \(familyName) \(Self.escapeHelp(help))\n# TYPE \(familyName) \(kind.rawValue)\n"
        if openMetrics, let unit { text += "# UNIT \(familyName) \(unit)\n" }
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double, exemplar: RequestMetrics.Exemplar? = nil) {
        sample(name, labels, Self.format(value), exemplar: exemplar)
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Int, exemplar: RequestMetrics.Exemplar? = nil) {
        sample(name, labels, String(value), exemplar: exemplar)
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: String, exemplar: RequestMetrics.Exemplar?) {
        text += name
        if !labels.isEmpty {
            text += "{"
            for (i, (k, v)) in labels.enumerated() {
                if i > 0 { text += "," }
                text += k
                text += "=\""
                text += Self.escapeLabel(v)
                text += "\""
            }
            text += "}"
        }
        text += " "
        text += value
        if openMetrics, let e = exemplar {
            // Both ids are hex: nothing to escape, 63 characters of the 128 allowed.
            text += " # {trace_id=\"\(e.traceID)\",span_id=\"\(e.spanIDHex)\"} \(Self.format(e.value)) \(Self.format(e.timestamp))"
        }
        text += "\n"
    }

    mutating func finish() -> String {
        if openMetrics { text += "# EOF\n" }
        return text
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func escapeLabel(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return value }
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func escapeHelp(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
