public import NIOHTTP1
public import MeridianCore

/// Decides whether a shared cache may store a response, and computes what it stores (RFC 9111 §3).
///
/// Pure: the request and response facts and both timestamps come in, a decision comes out. The freshness
/// arithmetic lives in `StoragePolicy+Freshness.swift`; a stored entry refreshed by a 304 goes through the same code
/// (`CacheEntryMetadata.freshened`), so a policy change applies to both alike.
public struct StoragePolicy: Sendable {
    /// The operator's knobs: per-route TTLs and what a stored response may carry.
    public struct Configuration: Sendable, Equatable {
        /// Used instead of heuristic freshness (RFC 9111 §4.2.2) when a response has no explicit freshness, like
        /// nginx's `proxy_cache_valid`. It applies where a heuristic would, and to 302 and 307 as Varnish does.
        public var defaultTTL: Double?
        /// Replaces the response's own freshness lifetime, as `s-maxage` would. It never makes a `no-store`,
        /// `private` or Authorization-protected response storable, nor an error status without explicit freshness.
        public var overrideTTL: Double?
        /// Keep `Set-Cookie` in stored responses; off, a shared cache never hands one client's cookie to another.
        public var storeSetCookie: Bool
        /// The share of the time since `Last-Modified` used as heuristic freshness (RFC 9111 §4.2.2 suggests 10%).
        public var heuristicFraction: Double
        /// The most heuristic freshness given, in seconds.
        public var maxHeuristic: Double
        /// Every freshness lifetime is capped at this, in seconds.
        public var maxTTL: Double
        /// The response field whose space-separated members tag the entry for purges (Fastly's `Surrogate-Key`);
        /// it is removed from the stored fields. Lower-cased on use.
        public var tagField: String

        public init(
            defaultTTL: Double? = nil,
            overrideTTL: Double? = nil,
            storeSetCookie: Bool = false,
            heuristicFraction: Double = 0.1,
            maxHeuristic: Double = 86400,
            maxTTL: Double = 31_536_000,
            tagField: String = "surrogate-key"
        ) {
            self.defaultTTL = defaultTTL
            self.overrideTTL = overrideTTL
            self.storeSetCookie = storeSetCookie
            self.heuristicFraction = heuristicFraction
            self.maxHeuristic = maxHeuristic
            self.maxTTL = maxTTL
            self.tagField = tagField
        }
    }

    /// The knobs this policy applies.
    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Status codes cacheable by default, so heuristic freshness may apply (RFC 9110 §15.1; RFC 9111 §4.2.2).
    static let heuristicallyCacheable: Set<Int> = [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]

    /// Status codes given `defaultTTL` when they carry no explicit freshness: the heuristic ones plus the temporary
    /// redirects, as Varnish does. Errors such as 500 and 503 never are: caching an outage would prolong it.
    static let defaultTTLStatuses: Set<Int> = heuristicallyCacheable.union([302, 307])

    /// Status codes whose caching requirements this cache implements, for `must-understand` (RFC 9111 §5.2.2.3):
    /// the final codes RFC 9110 §15 defines, less 206 and 304 which it never stores.
    static let understoodStatuses: Set<Int> = [
        200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 305, 307, 308,
        400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426,
        500, 501, 502, 503, 504, 505,
    ]

    /// Fields that describe one connection and never belong in a stored response (RFC 9110 §7.6.1), plus
    /// `Proxy-Authenticate`/`Proxy-Authorization`, which concern one hop too (RFC 9110 §11.7).
    static let hopByHopFields: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade", "trailer",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// Decides whether the response to a request may be stored, following RFC 9111 §3 in order.
    ///
    /// - Parameters:
    ///   - requestTime: when the request that produced this response was sent (§4.2.3 `request_time`).
    ///   - responseTime: when the response was received (§4.2.3 `response_time`).
    public func decide(
        method: HTTPMethod,
        requestHeaders: some HeaderFieldLookup,
        status: Int,
        responseHeaders: HTTPHeaders,
        requestTime: Double,
        responseTime: Double
    ) -> StorageDecision {
        // HEAD responses carry no body to store; HEAD requests are answered from GET entries (RFC 9110 §9.3.2).
        guard method == .GET else { return .doNotStore(reason: .method) }
        guard (200...599).contains(status) else { return .doNotStore(reason: .status) }
        if status == 206 { return .doNotStore(reason: .partialContent) }
        if status == 304 { return .doNotStore(reason: .notModified) }
        if CacheControl(requestHeaders).noStore { return .doNotStore(reason: .requestNoStore) }

        let control = CacheControl(responseHeaders)
        if control.mustUnderstand {
            // §5.2.2.3: a cache that understands the status code ignores the no-store sent alongside.
            guard Self.understoodStatuses.contains(status) else { return .doNotStore(reason: .mustUnderstand) }
        } else if control.noStore {
            return .doNotStore(reason: .noStore)
        }
        if control.isPrivate { return .doNotStore(reason: .privateResponse) }
        if requestHeaders.contains(name: "authorization"),
            !(control.mustRevalidate || control.isPublic || control.sharedMaxAge != nil)
        {
            return .doNotStore(reason: .authorization)
        }
        let vary = Self.varyFields(responseHeaders)
        if vary.contains("*") { return .doNotStore(reason: .varyStar) }
        let freshness = freshness(
            status: status, headers: responseHeaders, control: control, responseTime: responseTime)
        guard let freshness else { return .doNotStore(reason: .noFreshness) }

        let headers = storedHeaders(responseHeaders, control: control, responseTime: responseTime)
        let entry = CacheEntryMetadata(
            status: status,
            headers: headers,
            requestTime: requestTime,
            responseTime: responseTime,
            correctedInitialAge: Self.correctedInitialAge(
                date: responseHeaders["date"], age: responseHeaders["age"], requestTime: requestTime,
                responseTime: responseTime),
            freshnessLifetime: freshness.lifetime,
            isHeuristic: freshness.isHeuristic,
            control: control,
            varyFields: vary,
            etag: Self.firstValue(headers, "etag"),  // from what is stored: `private="etag"` leaves none
            lastModified: Self.firstValue(headers, "last-modified"),
            tags: tags(responseHeaders),
            bodyLength: Self.contentLength(responseHeaders)
        )
        if !entry.isReusable { return .doNotStore(reason: .notReusable) }
        return .store(entry)
    }

    /// The response's fields as stored: hop-by-hop fields and those named in `Connection` (RFC 9110 §7.6.1),
    /// `Set-Cookie` unless configured, the tag field, fields named by qualified `private` (RFC 9111 §5.2.2.7) and
    /// `no-cache` (§5.2.2.4), and `Age`, which is regenerated on every use (§4, §5.1), are dropped; the rest keep
    /// their order. A response without `Date` gets one for `responseTime` (RFC 9110 §6.6.1).
    func storedHeaders(_ headers: HTTPHeaders, control: CacheControl, responseTime: Double) -> HTTPHeaders {
        var excluded = excludedFields(headers)
        excluded.formUnion(control.privateFields)
        excluded.formUnion(control.noCacheFields)
        var stored = HTTPHeaders()
        stored.reserveCapacity(headers.count + 1)
        for (name, value) in headers where !excluded.contains(CacheFieldSyntax.lowercasedASCII(name)) {
            stored.add(name: name, value: value)
        }
        if !headers.contains(name: "date") {
            stored.add(name: "Date", value: CacheFieldSyntax.formatDate(responseTime))
        }
        return stored
    }

    /// The lower-cased names never stored from `headers`, whatever its cache directives.
    func excludedFields(_ headers: HTTPHeaders) -> Set<String> {
        var excluded = Self.hopByHopFields
        for member in CacheFieldSyntax.listMembers(headers["connection"]) {
            excluded.insert(CacheFieldSyntax.lowercasedASCII(member))
        }
        excluded.insert("age")
        excluded.insert(CacheFieldSyntax.lowercasedASCII(configuration.tagField))
        if !configuration.storeSetCookie { excluded.insert("set-cookie") }
        return excluded
    }

    /// The purge tags of a response: the space-separated members of the tag field, first occurrence kept.
    func tags(_ headers: HTTPHeaders) -> [String] {
        var tags: [String] = []
        for line in headers[configuration.tagField] {
            for tag in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) where !tags.contains(String(tag)) {
                tags.append(String(tag))
            }
        }
        return tags
    }

    /// The lower-cased, sorted, deduplicated field names of `Vary` (RFC 9110 §12.5.5).
    static func varyFields(_ headers: HTTPHeaders) -> [String] {
        let names = CacheFieldSyntax.listMembers(headers["vary"]).map { CacheFieldSyntax.lowercasedASCII($0) }
        return Array(Set(names)).sorted()
    }

    /// The first line of a field, OWS trimmed; nil when absent or empty.
    static func firstValue(_ headers: HTTPHeaders, _ name: String) -> String? {
        guard let value = headers.first(name: name) else { return nil }
        let trimmed = CacheFieldSyntax.trimOWS(Substring(value))
        return trimmed.isEmpty ? nil : String(trimmed)
    }

    /// `Content-Length` when every member agrees and is a valid number (RFC 9110 §8.6).
    static func contentLength(_ headers: HTTPHeaders) -> Int? {
        let members = CacheFieldSyntax.listMembers(headers["content-length"])
        guard let first = members.first, members.allSatisfy({ $0 == first }),
            first.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Int(first)
    }
}
