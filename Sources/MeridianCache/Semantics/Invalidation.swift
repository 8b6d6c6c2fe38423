public import NIOHTTP1

/// Which stored responses a state-changing request makes obsolete (RFC 9111 §4.4).
public enum Invalidation {
    /// The keys to invalidate after an unsafe request got a non-error response: its target URI, and the URIs in
    /// `Location` and `Content-Location` when they have the target's origin (RFC 9111 §4.4).
    ///
    /// "Unsafe" includes every method not known to be safe: anything but GET, HEAD, OPTIONS and TRACE (RFC 9110
    /// §9.2.1). A non-error status is 2xx or 3xx. References are resolved against the request path (RFC 3986 §5.2);
    /// one naming another scheme, host or port (default ports aside) is ignored, as §4.4 requires, and so is one
    /// with user information. The keys are GET keys (HEAD shares them); variants go with their primary key.
    public static func targets(
        method: HTTPMethod,
        status: Int,
        scheme: String,
        host: String,
        path: Substring,
        query: Substring?,
        responseHeaders: HTTPHeaders,
        options: KeyOptions
    ) -> [CacheKey] {
        switch method.rawValue {
        case "GET", "HEAD", "OPTIONS", "TRACE": return []
        default: break
        }
        guard (200..<400).contains(status) else { return [] }
        let target = CacheKey.primary(
            method: "GET", scheme: scheme, host: host, path: path, query: query, options: options)
        var keys = [target]
        for field in ["location", "content-location"] {
            guard let reference = responseHeaders.first(name: field),
                let target = resolve(reference, scheme: scheme, host: host, basePath: path, baseQuery: query)
            else { continue }
            let key = CacheKey.primary(
                method: "GET", scheme: scheme, host: host, path: Substring(target.path),
                query: target.query.map { Substring($0) }, options: options)
            if !keys.contains(key) { keys.append(key) }
        }
        return keys
    }

    /// A URI reference resolved against the request (RFC 3986 §5.2.2) into a path and query on the same origin;
    /// nil when it names another origin, or is not a hierarchical `scheme://` reference.
    static func resolve(
        _ reference: String, scheme: String, host: String, basePath: Substring, baseQuery: Substring?
    ) -> (path: String, query: String?)? {
        var rest = CacheFieldSyntax.trimOWS(Substring(reference))
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        if let colon = rest.firstIndex(of: ":"), isScheme(rest[..<colon]) {
            guard CacheFieldSyntax.lowercasedASCII(rest[..<colon]) == CacheFieldSyntax.lowercasedASCII(scheme)
            else { return nil }
            rest = rest[rest.index(after: colon)...]
            guard rest.hasPrefix("//") else { return nil }
        }
        if rest.hasPrefix("//") {
            let afterSlashes = rest.dropFirst(2)
            let end = afterSlashes.firstIndex { $0 == "/" || $0 == "?" } ?? afterSlashes.endIndex
            guard sameAuthority(afterSlashes[..<end], host, scheme: scheme) else { return nil }
            rest = afterSlashes[end...]
            let (path, query) = splitQuery(rest)
            return (normalizedPath(path.isEmpty ? "/" : String(path)), query.map(String.init))
        }
        let (path, query) = splitQuery(rest)
        if path.isEmpty {
            return (String(basePath), (query ?? baseQuery).map(String.init))
        }
        if path.hasPrefix("/") {
            return (normalizedPath(String(path)), query.map(String.init))
        }
        let directory = basePath.lastIndex(of: "/").map { basePath[...$0] } ?? "/"
        return (normalizedPath(String(directory) + path), query.map(String.init))
    }

    /// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
    private static func isScheme(_ text: Substring) -> Bool {
        guard let first = text.utf8.first, (first | 0x20) >= UInt8(ascii: "a"), (first | 0x20) <= UInt8(ascii: "z")
        else { return false }
        return text.utf8.allSatisfy {
            (($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z"))
                || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
        }
    }

    /// Whether an authority names the request's host and port (RFC 3986 §6.2.3: a default port is the same as
    /// none). User information makes it a different authority here, so it is never trusted.
    private static func sameAuthority(_ authority: Substring, _ host: String, scheme: String) -> Bool {
        guard !authority.contains("@") else { return false }
        return withoutDefaultPort(authority, scheme: scheme) == withoutDefaultPort(Substring(host), scheme: scheme)
    }

    private static func withoutDefaultPort(_ authority: Substring, scheme: String) -> String {
        var authority = CacheFieldSyntax.lowercasedASCII(authority)
        let port =
            switch CacheFieldSyntax.lowercasedASCII(scheme) {
            case "https": ":443"
            case "http": ":80"
            default: ""
            }
        if !port.isEmpty, authority.hasSuffix(port) { authority.removeLast(port.count) }
        if authority.hasSuffix(":") { authority.removeLast() }
        return authority
    }

    private static func splitQuery(_ text: Substring) -> (Substring, Substring?) {
        guard let mark = text.firstIndex(of: "?") else { return (text, nil) }
        return (text[..<mark], text[text.index(after: mark)...])
    }

    /// `remove_dot_segments` (RFC 3986 §5.2.4) and percent-encoding normalisation (§6.2.2) of an absolute path.
    static func normalizedPath(_ path: String) -> String {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        var output: [Substring] = []
        for (position, segment) in segments.enumerated().dropFirst() {
            let isLast = position == segments.count - 1
            if segment == "." || segment == ".." {
                if segment == "..", !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            } else {
                output.append(segment)
            }
        }
        return CacheKey.normalizedPercentEncoding(Substring("/" + output.joined(separator: "/")))
    }
}
