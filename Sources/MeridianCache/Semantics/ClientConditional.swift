public import NIOHTTP1
public import MeridianCore

/// Answers a client's own conditional GET or HEAD from a stored response (RFC 9111 §4.3.2, RFC 9110 §13.2.2).
///
/// Only the two preconditions that can yield 304 are evaluated: `If-Match` and `If-Unmodified-Since` concern
/// state-changing requests, which never reach a stored response.
public enum ClientConditional {
    /// Whether the stored response lets the cache answer 304 (Not Modified).
    ///
    /// `If-None-Match`, when present, decides alone (RFC 9110 §13.1.3: `If-Modified-Since` is then ignored): `*`
    /// matches any stored response, otherwise any listed tag that matches the stored `ETag` by weak comparison
    /// (§8.8.3.2, `W/` prefixes ignored). Without it, a valid single `If-Modified-Since` date is compared with the
    /// stored `Last-Modified`, or with `Date` (then the time it was received) when there is none (RFC 9111 §4.3.2):
    /// not modified when the stored time is no later. An invalid date is ignored (RFC 9110 §13.1.3).
    public static func notModified(requestHeaders: some HeaderFieldLookup, entry: CacheEntryMetadata) -> Bool {
        let ifNoneMatch = requestHeaders["if-none-match"]
        if !ifNoneMatch.isEmpty {
            guard let tags = entityTags(ifNoneMatch) else { return true }  // `*`
            guard let stored = entry.etag else { return false }
            let storedOpaque = opaqueTag(Substring(stored))
            return tags.contains { $0 == storedOpaque }
        }
        guard let since = CacheFieldSyntax.singleDate(requestHeaders["if-modified-since"]) else { return false }
        let modified =
            entry.lastModified.flatMap(CacheFieldSyntax.parseDate)
            ?? CacheFieldSyntax.singleDate(entry.headers["date"]) ?? entry.responseTime
        return modified <= since
    }

    /// The stored fields a 304 must carry (RFC 9110 §15.4.5): `Cache-Control`, `Content-Location`, `Date`, `ETag`,
    /// `Expires` and `Vary`, plus `Last-Modified` when there is no `ETag` (it is then the client's validator), in
    /// their stored order. The caller adds `Age`.
    public static func notModifiedHeaders(entry: CacheEntryMetadata) -> HTTPHeaders {
        var wanted: Set<String> = ["cache-control", "content-location", "date", "etag", "expires", "vary"]
        if entry.etag == nil { wanted.insert("last-modified") }
        var headers = HTTPHeaders()
        for (name, value) in entry.headers where wanted.contains(CacheFieldSyntax.lowercasedASCII(name)) {
            headers.add(name: name, value: value)
        }
        return headers
    }

    /// The opaque tags (without `W/` and quotes) of an `If-None-Match` list, or nil when it holds `*`.
    ///
    /// Walks bytes rather than splitting on commas: an entity tag may contain a comma (RFC 9110 §8.8.3 `etagc`).
    /// Members that are not entity tags are skipped up to the next comma.
    static func entityTags(_ lines: [String]) -> [Substring]? {
        var tags: [Substring] = []
        for line in lines {
            let utf8 = line.utf8
            var index = utf8.startIndex
            while index < utf8.endIndex {
                let byte = utf8[index]
                if byte == UInt8(ascii: ",") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                    index = utf8.index(after: index)
                    continue
                }
                if byte == UInt8(ascii: "*") { return nil }
                var start = index
                if byte == UInt8(ascii: "W"), line[index...].hasPrefix("W/\"") {
                    start = utf8.index(index, offsetBy: 2)
                }
                if utf8[start] == UInt8(ascii: "\"") {
                    let open = utf8.index(after: start)
                    if let close = utf8[open...].firstIndex(of: UInt8(ascii: "\"")) {
                        tags.append(line[open..<close])
                        index = utf8.index(after: close)
                        continue
                    }
                }
                // Not an entity tag: an unquoted one is taken as written, for origins that send `ETag: abc`.
                let end = utf8[index...].firstIndex(of: UInt8(ascii: ",")) ?? utf8.endIndex
                tags.append(opaqueTag(line[index..<end]))
                index = end
            }
        }
        return tags
    }

    /// An entity tag without its weakness prefix and quotes: what weak comparison compares (RFC 9110 §8.8.3.2).
    static func opaqueTag(_ tag: Substring) -> Substring {
        var tag = CacheFieldSyntax.trimOWS(tag)
        if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
        if tag.count >= 2, tag.first == "\"", tag.last == "\"" { tag = tag.dropFirst().dropLast() }
        return tag
    }
}
