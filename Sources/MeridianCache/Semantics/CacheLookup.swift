public import NIOHTTP1
public import MeridianCore

/// What to do with a stored response that a request found (RFC 9111 §4, §4.2.4; RFC 5861).
///
/// A pure state machine: the entry, the request's fields and the time go in, an action comes out; the cache
/// middleware carries it out (serving, forwarding, refreshing in the background).
public struct CacheLookup: Sendable {
    /// The outcome of a lookup that found an entry.
    public enum Action: Sendable, Equatable {
        /// Serve the stored response without contacting the origin: it is fresh enough for the request, or stale
        /// within the request's `max-stale` (RFC 9111 §5.2.1.2). `entry.isFresh(now:)` tells the two apart.
        case fresh
        /// Serve the stale response now and refresh it once in the background (RFC 5861 §3).
        case staleWhileRevalidate
        /// Forward with these validators and use the stored response if the answer is 304 (RFC 9111 §4.3.1).
        case revalidate(conditionalHeaders: HTTPHeaders)
        /// Unusable and nothing to validate it with: forward as a miss.
        case mustForward
        /// The request said `only-if-cached` and the stored response cannot serve it: answer 504 (§5.2.1.7).
        case unsatisfiableOnlyIfCached
    }

    /// Decides how `entry` may answer a request with `requestHeaders` at `now`.
    ///
    /// In order: the request's `no-cache` (or `Pragma: no-cache` without `Cache-Control`, RFC 9111 §5.4) and the
    /// response's unqualified `no-cache` (§5.2.2.4) force validation. Otherwise a fresh response is served when the
    /// request's `max-age` (§5.2.1.1) and `min-fresh` (§5.2.1.3) allow it. A stale one is served within the
    /// request's `max-stale` (§5.2.1.2), or within the response's `stale-while-revalidate` window when
    /// `serveStaleWhileRevalidate` (RFC 5861 §3), unless `must-revalidate`, `proxy-revalidate` or `s-maxage` forbid
    /// serving it stale (§4.2.4, §5.2.2.2, §5.2.2.8, §5.2.2.10) or the request's `max-age` or `min-fresh` rule it
    /// out. What remains is validated, forwarded, or for `only-if-cached` answered with 504 (§5.2.1.7), never
    /// forwarded.
    public static func evaluate(
        entry: CacheEntryMetadata,
        requestHeaders: some HeaderFieldLookup,
        now: Double,
        serveStaleWhileRevalidate: Bool = true
    ) -> Action {
        let request = CacheControl(requestHeaders)
        let age = entry.currentAge(now: now)
        let lifetime = entry.freshnessLifetime
        let withinMaxAge = request.maxAge.map { age <= Double($0) } ?? true
        if !requestsValidation(request, requestHeaders), !entry.control.noCache, withinMaxAge {
            if lifetime > age {
                if request.minFresh.map({ lifetime - age >= Double($0) }) ?? true { return .fresh }
            } else if !entry.control.forbidsStale, request.minFresh == nil {
                let staleness = age - lifetime
                if let maxStale = request.maxStale, allows(maxStale, staleness: staleness) { return .fresh }
                if serveStaleWhileRevalidate, let window = entry.control.staleWhileRevalidate,
                    staleness <= Double(window)
                {
                    return .staleWhileRevalidate
                }
            }
        }
        if request.onlyIfCached { return .unsatisfiableOnlyIfCached }
        let conditional = conditionalHeaders(for: entry)
        return conditional.isEmpty ? .mustForward : .revalidate(conditionalHeaders: conditional)
    }

    /// Whether `entry` may answer the request after the origin failed (an `isError` status, a connection failure
    /// or an open breaker), at `now`.
    ///
    /// RFC 5861 §4: within the response's `stale-if-error` window or the request's, or (RFC 9111 §5.2.1.2) within
    /// the request's `max-stale`; the stale-if-error windows apply "regardless of other freshness information", so
    /// the request's `max-age` does not count here. Never when the response forbids serving it stale
    /// (`must-revalidate`, `proxy-revalidate`, `s-maxage`, `no-cache`; RFC 9111 §4.2.4), nor when the request asked
    /// for validation with `no-cache`: that client said it wants the origin's answer.
    public static func mayServeStaleOnError(
        entry: CacheEntryMetadata, requestHeaders: some HeaderFieldLookup, now: Double
    ) -> Bool {
        guard !entry.control.forbidsStale else { return false }
        let request = CacheControl(requestHeaders)
        guard !requestsValidation(request, requestHeaders) else { return false }
        let staleness = entry.staleness(now: now)
        if let window = entry.control.staleIfError, staleness <= Double(window) { return true }
        if let window = request.staleIfError, staleness <= Double(window) { return true }
        if let maxStale = request.maxStale, allows(maxStale, staleness: staleness) { return true }
        return false
    }

    /// The statuses that count as an origin error for `stale-if-error` (RFC 5861 §4).
    public static func isError(status: Int) -> Bool {
        status == 500 || status == 502 || status == 503 || status == 504
    }

    /// The validators to forward when revalidating `entry` (RFC 9111 §4.3.1): `If-None-Match` with the stored
    /// entity tag and `If-Modified-Since` with the stored `Last-Modified` when it is a valid date. Both when both
    /// exist, as the RFC allows; empty when there is neither. The caller replaces the client's own conditionals.
    public static func conditionalHeaders(for entry: CacheEntryMetadata) -> HTTPHeaders {
        var headers = HTTPHeaders()
        if let etag = entry.etag { headers.add(name: "If-None-Match", value: etag) }
        if let lastModified = entry.lastModified, CacheFieldSyntax.parseDate(lastModified) != nil {
            headers.add(name: "If-Modified-Since", value: lastModified)
        }
        return headers
    }

    /// The request's `no-cache`, or `Pragma: no-cache` when it has no `Cache-Control` (RFC 9111 §5.4).
    static func requestsValidation(_ control: CacheControl, _ headers: some HeaderFieldLookup) -> Bool {
        if control.noCache { return true }
        guard !headers.contains(name: "cache-control") else { return false }
        return CacheFieldSyntax.listMembers(headers["pragma"]).contains {
            CacheFieldSyntax.lowercasedASCII($0) == "no-cache"
        }
    }

    private static func allows(_ maxStale: CacheControl.MaxStale, staleness: Double) -> Bool {
        switch maxStale {
        case .any: true
        case .seconds(let seconds): staleness <= Double(seconds)
        }
    }
}
