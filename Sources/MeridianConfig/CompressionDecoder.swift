internal import Yams

/// `compression:` (top level or on a route): `on`, `off`, or a mapping.
struct CompressionDecoder {
    let reader: ConfigReader

    /// `base`: what the keys not given keep (the top-level section for a route; `enabled` already true, since
    /// writing the section means wanting it).
    func compression(_ node: Node, _ path: String, base: Configuration.Compression) -> Configuration.Compression {
        var c = base
        if case .scalar = node, let on = reader.bool(node, path) {
            c.enabled = on
            return c
        }
        let keys = ["enabled", "encodings", "gzip_level", "brotli_level", "min_length", "types", "cache"]
        guard let m = reader.mapping(node, path, allowed: keys) else { return c }
        if let n = m["enabled"], let v = reader.bool(n, "\(path).enabled") { c.enabled = v }
        if let n = m["cache"], let v = reader.bool(n, "\(path).cache") { c.cache = v }
        if let n = m["encodings"], let v = reader.strings(n, "\(path).encodings") {
            let known = ["br", "gzip"]
            let wrong = v.filter { !known.contains($0) }
            if !wrong.isEmpty || v.isEmpty {
                reader.error(n, "\(path).encodings", "\(v.isEmpty ? "is empty" : "'\(wrong[0])' is not an encoding here"); expected any of: br, gzip")
            } else {
                c.encodings = v
            }
        }
        if let n = m["gzip_level"], let v = reader.int(n, "\(path).gzip_level", range: 1...9) { c.gzipLevel = v }
        if let n = m["brotli_level"], let v = reader.int(n, "\(path).brotli_level", range: 0...11) { c.brotliLevel = v }
        if let n = m["min_length"], let v = reader.size(n, "\(path).min_length", range: 0...1_000_000_000) { c.minLength = v }
        if let n = m["types"], let v = reader.strings(n, "\(path).types") {
            let bad = v.first { t in
                let parts = t.split(separator: "/", omittingEmptySubsequences: false)
                return parts.count != 2 || parts.contains { $0.isEmpty || $0.contains(" ") }
            }
            if let bad {
                reader.error(n, "\(path).types", "'\(bad)' is not a media type; expected type/subtype like text/html, text/* or application/*+json")
            } else {
                c.types = v.map { $0.lowercased() }
            }
        }
        return c
    }
}
