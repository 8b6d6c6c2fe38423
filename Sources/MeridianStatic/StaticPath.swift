/// Turns a routed request path into a path under the document root, refusing anything that could
/// leave it. The router has already removed dot segments from the raw path; this decodes the rest
/// once (never twice: `%252e` stays the literal name `%2e`) and checks what decoding produced.
public enum StaticPath {
    public enum Outcome: Equatable, Sendable {
        /// Relative path segments under the root, and whether the request path ended in `/`.
        case file(segments: [String], trailingSlash: Bool)
        case badRequest(String)
        case notFound
    }

    public static func resolve(_ path: Substring, stripPrefix: String?, allowDotfiles: Bool) -> Outcome {
        var path = path
        if let prefix = stripPrefix {
            guard path.hasPrefix(prefix) else { return .notFound }
            path = path.dropFirst(prefix.count)
            if !path.hasPrefix("/") { path = "/" + path }
        }
        let trailingSlash = path.hasSuffix("/")
        var segments: [String] = []
        for raw in path.split(separator: "/", omittingEmptySubsequences: true) {
            guard let bytes = percentDecode(raw) else { return .badRequest("malformed percent-encoding") }
            if bytes.contains(0) { return .badRequest("NUL byte in path") }
            if bytes.contains(UInt8(ascii: "/")) { return .badRequest("encoded slash in path") }
            if bytes.contains(UInt8(ascii: "\\")) { return .badRequest("backslash in path") }
            guard let segment = String(validating: bytes, as: UTF8.self) else { return .badRequest("path is not UTF-8") }
            if segment == "." || segment == ".." { return .badRequest("dot segment in path") }
            if segment.hasPrefix(".") && !allowDotfiles && segment != ".well-known" { return .notFound }
            segments.append(segment)
        }
        return .file(segments: segments, trailingSlash: trailingSlash)
    }

    static func percentDecode(_ s: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var it = s.utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next(), let l = it.next(), let hv = hex(h), let lv = hex(l) else { return nil }
                out.append(hv << 4 | lv)
            } else {
                out.append(b)
            }
        }
        return out
    }

    static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }
}
