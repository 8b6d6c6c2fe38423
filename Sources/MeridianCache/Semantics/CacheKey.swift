public import NIOHTTP1
public import MeridianCore

/// The key a response is stored under: the method and normalised target URI (RFC 9111 §2), readable as
/// `GET https://host/path?a=1&b=2` so that logs show it and URL-prefix purges are string-prefix matches.
///
/// A response that varies is stored under a variant key derived from the primary one (`variant(fields:…)`, §4.1).
public struct CacheKey: Sendable, Hashable {
    /// `METHOD scheme://host/path[?query]`.
    public let primary: String

    /// A key as stored or logged, e.g. read back from L2.
    public init(primary: String) {
        self.primary = primary
    }

    /// The primary key of a request. HEAD is keyed as GET: its response is the GET response without the body
    /// (RFC 9110 §9.3.2), so the cache answers it from the GET entry.
    ///
    /// - Parameters:
    ///   - host: lower-cased, with a port only when not the default (as the server normalises it).
    ///   - path: as normalised by the server; used as given.
    ///   - query: without the `?`; nil or empty for none.
    public static func primary(
        method: String, scheme: String, host: String, path: Substring, query: Substring?, options: KeyOptions
    ) -> CacheKey {
        let method = method == "HEAD" ? "GET" : method
        let url = url(scheme: scheme, host: host, path: path, query: query, options: options)
        return CacheKey(primary: method + " " + url)
    }

    /// The URL part of a primary key, `scheme://host/path[?query]`: what purges by URL or prefix match against.
    ///
    /// The query is normalised (RFC 3986 §6.2.2): split on `&`, empty parameters dropped, ignored names removed,
    /// percent-encoding of unreserved characters decoded and the remaining hex digits upper-cased, then sorted by
    /// name and value unless `options.sortQuery` is off.
    public static func url(
        scheme: String, host: String, path: Substring, query: Substring?, options: KeyOptions = KeyOptions()
    ) -> String {
        var url = CacheFieldSyntax.lowercasedASCII(scheme)
        url += "://"
        url += host
        url += path
        if options.includeQuery, let query {
            let normalized = normalizedQuery(query, options: options)
            if !normalized.isEmpty {
                url += "?"
                url += normalized
            }
        }
        return url
    }

    /// The key of the variant that a request with `requestHeaders` selects, for a response that varies on
    /// `fields` (RFC 9111 §4.1): the primary key, `U+001F`, then `name=value` per field joined by `U+001E`.
    ///
    /// Values are normalised the ways §4.1 allows: all lines joined with commas and whitespace around commas
    /// removed. `Accept-Encoding` is reduced to the coding the server would pick among `br`, `gzip` and `identity`
    /// (`preferredCoding`), so a URL keeps at most three encoding variants, as Varnish does. A field the request
    /// lacks is written as its bare name, distinct from one sent empty. Control characters are dropped, so a
    /// value can never forge a separator.
    public func variant(fields: [String], requestHeaders: some HeaderFieldLookup) -> String {
        var key = primary
        key += "\u{1F}"
        for (position, field) in fields.enumerated() {
            if position > 0 { key += "\u{1E}" }
            let name = CacheFieldSyntax.lowercasedASCII(field)
            key += name
            let lines = requestHeaders[name]
            if name == "accept-encoding" {
                key += "="
                key += Self.preferredCoding(lines)
            } else if !lines.isEmpty {
                key += "="
                key += Self.normalizedFieldValue(lines)
            }
        }
        return key
    }

    /// The coding the server would send among `br`, `gzip` and `identity` for these `Accept-Encoding` lines
    /// (RFC 9110 §12.5.3): the highest qvalue (§12.4.2) wins, and at equal weight `br`, then `gzip`, then `identity`.
    ///
    /// `x-gzip` counts as `gzip` (§8.4.1.3) and `*` covers codings not listed. Identity is acceptable unless
    /// excluded, with the least weight, so any listed coding beats it. A member with an invalid qvalue is ignored, a
    /// repeated coding keeps its first weight, and when nothing is acceptable the answer is `identity` (the server
    /// then sends the bytes unencoded). No lines at all means identity, as Meridian's compression does.
    public static func preferredCoding(_ acceptEncoding: [String]) -> String {
        var brotli: Int?
        var gzip: Int?
        var identity: Int?
        var wildcard: Int?
        for line in acceptEncoding {
            for member in line.split(separator: ",") {
                var parts = member.split(separator: ";", omittingEmptySubsequences: false)[...]
                let coding = CacheFieldSyntax.lowercasedASCII(CacheFieldSyntax.trimOWS(parts.removeFirst()))
                guard !coding.isEmpty, let weight = qvalue(parameters: parts) else { continue }
                switch coding {
                case "br": brotli = brotli ?? weight
                case "gzip", "x-gzip": gzip = gzip ?? weight
                case "identity": identity = identity ?? weight
                case "*": wildcard = wildcard ?? weight
                default: break
                }
            }
        }
        let brotliWeight = brotli ?? wildcard ?? 0
        let gzipWeight = gzip ?? wildcard ?? 0
        let identityWeight = identity ?? wildcard ?? 1
        if brotliWeight > 0, brotliWeight >= gzipWeight, brotliWeight >= identityWeight { return "br" }
        if gzipWeight > 0, gzipWeight >= identityWeight { return "gzip" }
        return "identity"
    }

    /// Whether a client sending these `Accept-Encoding` lines can take a body in `coding` (RFC 9110 §12.5.3): listed
    /// (or covered by `*`) with a non-zero weight. Identity is always taken (a server sends it rather than a 406, as
    /// Meridian's compression does). A stored variant in a coding the request cannot take is not served to it,
    /// whatever its key: an upstream may use codings the key does not name.
    public static func accepts(_ acceptEncoding: [String], coding: String) -> Bool {
        var wanted = CacheFieldSyntax.lowercasedASCII(Substring(coding))
        if wanted == "x-gzip" { wanted = "gzip" }
        if wanted.isEmpty || wanted == "identity" { return true }
        var wildcard: Int?
        for line in acceptEncoding {
            for member in line.split(separator: ",") {
                var parts = member.split(separator: ";", omittingEmptySubsequences: false)[...]
                var name = CacheFieldSyntax.lowercasedASCII(CacheFieldSyntax.trimOWS(parts.removeFirst()))
                if name == "x-gzip" { name = "gzip" }
                guard let weight = qvalue(parameters: parts) else { continue }
                if name == wanted { return weight > 0 }
                if name == "*" { wildcard = wildcard ?? weight }
            }
        }
        return (wildcard ?? 0) > 0
    }

    /// The weight in thousandths given by a `q` parameter (RFC 9110 §12.4.2), 1000 without one, nil when invalid.
    static func qvalue(parameters: ArraySlice<Substring>) -> Int? {
        var weight = 1000
        for parameter in parameters {
            let parameter = CacheFieldSyntax.trimOWS(parameter)
            guard parameter.hasPrefix("q=") || parameter.hasPrefix("Q=") else { continue }
            let text = parameter.dropFirst(2).utf8
            guard let first = text.first, first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return nil }
            let fraction = text.dropFirst()
            var thousandths = 0
            if let dot = fraction.first {
                let digits = fraction.dropFirst()
                guard dot == UInt8(ascii: "."), digits.count <= 3,
                    digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
                else { return nil }
                for (position, digit) in digits.enumerated() {
                    thousandths += Int(digit - UInt8(ascii: "0")) * [100, 10, 1][position]
                }
            }
            if first == UInt8(ascii: "1") {
                guard thousandths == 0 else { return nil }
                weight = 1000
            } else {
                weight = thousandths
            }
        }
        return weight
    }

    /// Field lines joined by commas, OWS around each comma removed, control characters dropped.
    static func normalizedFieldValue(_ lines: [String]) -> String {
        var bytes: [UInt8] = []
        var isFirst = true
        for line in lines {
            for member in line.split(separator: ",", omittingEmptySubsequences: false) {
                if !isFirst { bytes.append(UInt8(ascii: ",")) }
                isFirst = false
                for byte in CacheFieldSyntax.trimOWS(member).utf8 where byte >= 0x20 && byte != 0x7F {
                    bytes.append(byte)
                }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
