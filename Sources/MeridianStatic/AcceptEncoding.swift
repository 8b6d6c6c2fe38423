/// Picks a content coding from `Accept-Encoding` q-values (RFC 9110 §12.5.3). Pure.
public enum AcceptEncoding {
    /// - Parameters:
    ///   - available: codings present, in server preference order (e.g. `["br", "gzip"]`).
    /// - Returns: the chosen coding, or nil for identity.
    public static func choose(_ header: String?, available: [String]) -> String? {
        guard let header, !available.isEmpty else { return nil }
        var q: [String: Double] = [:]
        var star: Double?
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";")
            guard let name = parts.first?.trimmingCharacters(in: " \t").lowercased(), !name.isEmpty else { continue }
            var weight = 1.0
            for param in parts.dropFirst() {
                let p = param.trimmingCharacters(in: " \t").lowercased()
                if p.hasPrefix("q="), let v = Double(p.dropFirst(2)), v >= 0, v <= 1 { weight = v }
            }
            if name == "*" { star = weight } else { q[name == "x-gzip" ? "gzip" : name] = weight }
        }
        func weight(_ coding: String) -> Double { q[coding] ?? star ?? 0 }
        // Identity is always acceptable unless refused, but when the client did not list it, any
        // coding it did list is what it prefers.
        let identity = q["identity"] ?? (star == 0 ? 0 : 0.001)
        var best: (String?, Double) = (nil, identity)
        for coding in available {
            let w = weight(coding)
            // A coding wins ties with identity: it is the smaller body.
            if w > 0 && w >= best.1 && (best.0 == nil || w > best.1) { best = (coding, w) }
        }
        return best.0
    }
}
