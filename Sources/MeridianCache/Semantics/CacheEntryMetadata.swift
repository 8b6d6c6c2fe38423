public import NIOHTTP1

/// What a cache keeps about a stored response besides its body: the fields to send, and the facts its age and
/// freshness are computed from (RFC 9111 §4.2).
///
/// Times are seconds since the epoch, fractional, always passed in: nothing here reads a clock.
public struct CacheEntryMetadata: Sendable, Equatable {
    /// The response's status code.
    public var status: Int
    /// The fields to send with the stored response, filtered as RFC 9111 §3.1 asks; no `Age` (regenerated on use).
    public var headers: HTTPHeaders
    /// When the request that produced the response was sent (§4.2.3 `request_time`).
    public var requestTime: Double
    /// When the response arrived (§4.2.3 `response_time`).
    public var responseTime: Double
    /// The response's age when it arrived (§4.2.3 `corrected_initial_age`).
    public var correctedInitialAge: Double
    /// How long after its generation the response stays fresh, in seconds (§4.2.1).
    public var freshnessLifetime: Double
    /// Whether `freshnessLifetime` is a heuristic (§4.2.2).
    public var isHeuristic: Bool
    /// The response's cache directives.
    public var control: CacheControl
    /// The request fields named by `Vary`, lower-cased, sorted and deduplicated (§4.1).
    public var varyFields: [String]
    /// The stored `ETag`, as sent (quotes and any `W/` kept).
    public var etag: String?
    /// The stored `Last-Modified`, as sent.
    public var lastModified: String?
    /// Purge tags, from the configured tag field (`Surrogate-Key`), which is not among `headers`.
    public var tags: [String]
    /// The body length, from `Content-Length` when the response had a valid one.
    public var bodyLength: Int?

    public init(
        status: Int,
        headers: HTTPHeaders,
        requestTime: Double,
        responseTime: Double,
        correctedInitialAge: Double,
        freshnessLifetime: Double,
        isHeuristic: Bool,
        control: CacheControl,
        varyFields: [String],
        etag: String?,
        lastModified: String?,
        tags: [String],
        bodyLength: Int?
    ) {
        self.status = status
        self.headers = headers
        self.requestTime = requestTime
        self.responseTime = responseTime
        self.correctedInitialAge = correctedInitialAge
        self.freshnessLifetime = freshnessLifetime
        self.isHeuristic = isHeuristic
        self.control = control
        self.varyFields = varyFields
        self.etag = etag
        self.lastModified = lastModified
        self.tags = tags
        self.bodyLength = bodyLength
    }

    /// The response's age at `now` (RFC 9111 §4.2.3): `corrected_initial_age + resident_time`.
    ///
    /// A `now` before `responseTime` (an L2 entry written by an instance whose clock runs ahead) counts as no
    /// resident time rather than making the entry younger than when it arrived.
    public func currentAge(now: Double) -> Double {
        correctedInitialAge + max(0, now - responseTime)
    }

    /// Whether the response is fresh at `now`: `freshness_lifetime > current_age` (RFC 9111 §4.2).
    public func isFresh(now: Double) -> Bool {
        freshnessLifetime > currentAge(now: now)
    }

    /// How long the response has been stale at `now`, zero while fresh (RFC 9111 §4.2.4).
    public func staleness(now: Double) -> Double {
        max(0, currentAge(now: now) - freshnessLifetime)
    }

    /// Remaining freshness at `now`, negative once stale: the `ttl` of `Cache-Status` (RFC 9211 §2.4).
    public func timeToLive(now: Double) -> Double {
        freshnessLifetime - currentAge(now: now)
    }

    /// The `Age` field value to send at `now` (RFC 9111 §5.1): whole seconds, capped at 2^31 (§1.2.2).
    public func ageHeaderValue(now: Double) -> String {
        let age = min(currentAge(now: now).rounded(.down), Double(CacheFieldSyntax.maxDeltaSeconds))
        return String(Int(max(0, age)))
    }

    /// Seconds after `responseTime` past which the entry is useless even stale, with nothing kept for
    /// revalidation: `retention(keep: 0)`.
    public var expiresAfter: Double {
        retention(keep: 0)
    }

    /// Seconds after `responseTime` for which the entry is worth keeping (an L2 TTL): until it turns stale, then
    /// through its usable `stale-while-revalidate`/`stale-if-error` window (RFC 5861), then `keep` more seconds
    /// (Varnish's keep: a stale entry with a validator costs a 304 instead of a full response; one without a
    /// validator is of no use past its stale window, so it gets no keep).
    public func retention(keep: Double) -> Double {
        let hasValidator = etag != nil || lastModified != nil
        return max(0, freshnessLifetime - correctedInitialAge) + staleWindow + (hasValidator ? max(0, keep) : 0)
    }

    /// The longest the response's own RFC 5861 directives let it be served stale; zero when RFC 9111 §4.2.4
    /// forbids serving it stale at all.
    var staleWindow: Double {
        guard !control.forbidsStale else { return 0 }
        return Double(max(control.staleWhileRevalidate ?? 0, control.staleIfError ?? 0))
    }

    /// Whether a later request could ever be answered from this entry: it has a validator, or is fresh on arrival
    /// (and not `no-cache`), or may be served stale within an RFC 5861 window.
    var isReusable: Bool {
        if !CacheLookup.conditionalHeaders(for: self).isEmpty { return true }
        if control.noCache { return false }
        return freshnessLifetime > correctedInitialAge || staleWindow > 0
    }

    /// This entry updated by the 304 (Not Modified) that validated it (RFC 9111 §4.3.4, §3.2).
    ///
    /// Every field the 304 carries replaces all stored lines of that name, in place; new fields are appended.
    /// Excluded: what is never stored (hop-by-hop, `Age`, `Set-Cookie` unless configured, the tag field, which
    /// updates `tags` instead), and the fields the stored body depends on (`Content-Length`, `Content-Encoding`,
    /// `Content-Range`; §3.2). Age and freshness are then recomputed from the new exchange. A 304 that now says
    /// `no-store` leaves `control.noStore` set: the caller should drop the entry rather than keep it.
    public func freshened(
        with notModifiedHeaders: HTTPHeaders, requestTime: Double, responseTime: Double, policy: StoragePolicy
    ) -> CacheEntryMetadata {
        var excluded = policy.excludedFields(notModifiedHeaders)
        excluded.formUnion(["content-length", "content-encoding", "content-range"])
        var updates: [(name: String, lowercased: String, value: String)] = []
        for (name, value) in notModifiedHeaders {
            let lowercased = CacheFieldSyntax.lowercasedASCII(name)
            if !excluded.contains(lowercased) { updates.append((name, lowercased, value)) }
        }
        if !notModifiedHeaders.contains(name: "date") {
            updates.append(("Date", "date", CacheFieldSyntax.formatDate(responseTime)))
        }
        let updatedNames = Set(updates.map(\.lowercased))

        var merged = HTTPHeaders()
        merged.reserveCapacity(headers.count + updates.count)
        var placed = Set<String>()
        for (name, value) in headers {
            let lowercased = CacheFieldSyntax.lowercasedASCII(name)
            guard updatedNames.contains(lowercased) else {
                merged.add(name: name, value: value)
                continue
            }
            if placed.insert(lowercased).inserted {
                for update in updates where update.lowercased == lowercased {
                    merged.add(name: update.name, value: update.value)
                }
            }
        }
        for update in updates where !placed.contains(update.lowercased) {
            merged.add(name: update.name, value: update.value)
        }

        let control = CacheControl(merged)
        let stripped = Set(control.privateFields + control.noCacheFields)
        if !stripped.isEmpty {
            var kept = HTTPHeaders()
            for (name, value) in merged where !stripped.contains(CacheFieldSyntax.lowercasedASCII(name)) {
                kept.add(name: name, value: value)
            }
            merged = kept
        }
        let freshness =
            policy.freshness(status: status, headers: merged, control: control, responseTime: responseTime)
            ?? StoragePolicy.Freshness(lifetime: 0, isHeuristic: false)

        var entry = self
        entry.headers = merged
        entry.requestTime = requestTime
        entry.responseTime = responseTime
        entry.correctedInitialAge = StoragePolicy.correctedInitialAge(
            date: merged["date"], age: notModifiedHeaders["age"], requestTime: requestTime, responseTime: responseTime)
        entry.freshnessLifetime = freshness.lifetime
        entry.isHeuristic = freshness.isHeuristic
        entry.control = control
        entry.varyFields = StoragePolicy.varyFields(merged)
        entry.etag = StoragePolicy.firstValue(merged, "etag")
        entry.lastModified = StoragePolicy.firstValue(merged, "last-modified")
        if notModifiedHeaders.contains(name: policy.configuration.tagField) {
            entry.tags = policy.tags(notModifiedHeaders)
        }
        return entry
    }
}
