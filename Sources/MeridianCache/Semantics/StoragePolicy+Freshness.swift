public import NIOHTTP1

extension StoragePolicy {
    /// A freshness lifetime in seconds, and whether a heuristic produced it (RFC 9111 §4.2.2).
    public struct Freshness: Sendable, Equatable {
        /// Seconds after the response's generation during which it is fresh.
        public var lifetime: Double
        /// Whether RFC 9111 §4.2.2's heuristic produced `lifetime`.
        public var isHeuristic: Bool

        public init(lifetime: Double, isHeuristic: Bool) {
            self.lifetime = lifetime
            self.isHeuristic = isHeuristic
        }
    }

    /// The freshness lifetime of a response (RFC 9111 §4.2.1), or nil when it has none a cache may use.
    ///
    /// Explicit freshness comes first, in the shared-cache order `s-maxage`, `max-age`, `Expires` − `Date`. A
    /// configured `overrideTTL` replaces it; without explicit freshness `defaultTTL` stands in for the heuristic,
    /// which is `heuristicFraction` × (`Date` − `Last-Modified`) and is only allowed for heuristically cacheable
    /// status codes or a `public` response (§4.2.2). Every result is capped at `maxTTL`.
    public func freshness(
        status: Int, headers: HTTPHeaders, control: CacheControl, responseTime: Double
    ) -> Freshness? {
        let explicit = Self.explicitLifetime(headers: headers, control: control, responseTime: responseTime)
        let heuristicAllowed =
            explicit == nil && (Self.heuristicallyCacheable.contains(status) || control.isPublic)
        let defaultAllowed = heuristicAllowed || (explicit == nil && Self.defaultTTLStatuses.contains(status))
        if let override = configuration.overrideTTL {
            guard explicit != nil || defaultAllowed else { return nil }
            return Freshness(lifetime: capped(override), isHeuristic: false)
        }
        if let explicit { return Freshness(lifetime: capped(explicit), isHeuristic: false) }
        if defaultAllowed, let defaultTTL = configuration.defaultTTL {
            return Freshness(lifetime: capped(defaultTTL), isHeuristic: false)
        }
        guard heuristicAllowed else { return nil }
        let date = CacheFieldSyntax.singleDate(headers["date"]) ?? responseTime
        var heuristic = 0.0
        if let lastModified = CacheFieldSyntax.singleDate(headers["last-modified"]), lastModified <= date {
            heuristic = min(configuration.heuristicFraction * (date - lastModified), configuration.maxHeuristic)
        }
        return Freshness(lifetime: capped(heuristic), isHeuristic: true)
    }

    /// The lifetime the response states itself, or nil when it states none (RFC 9111 §4.2.1).
    ///
    /// Invalid information counts as already expired: an invalid or conflicting `max-age`/`s-maxage`
    /// (§4.2.1), an unparseable `Expires` such as `0` (§5.3), and several differing `Expires` lines (§4.2.1).
    static func explicitLifetime(headers: HTTPHeaders, control: CacheControl, responseTime: Double) -> Double? {
        if control.hasInvalidFreshness { return 0 }
        if let shared = control.sharedMaxAge { return Double(shared) }
        if let maxAge = control.maxAge { return Double(maxAge) }
        let expiresLines = headers["expires"]
        guard let first = expiresLines.first else { return nil }
        guard expiresLines.allSatisfy({ $0 == first }), let expires = CacheFieldSyntax.parseDate(first) else {
            return 0
        }
        // §4.2.1: without a Date field, the time the response was received stands in for it.
        let date = CacheFieldSyntax.singleDate(headers["date"]) ?? responseTime
        return max(0, expires - date)
    }

    /// `corrected_initial_age` of RFC 9111 §4.2.3: the larger of the apparent age (`response_time` − `Date`) and
    /// the upstream `Age` plus the time the response took to arrive (`response_time` − `request_time`).
    ///
    /// An `Age` list keeps its first member and an invalid one is ignored (§5.1); a missing or invalid `Date`
    /// gives an apparent age of zero.
    ///
    /// - Parameters:
    ///   - date: the lines of the response's `Date` field.
    ///   - age: the lines of the response's `Age` field.
    static func correctedInitialAge(date: [String], age: [String], requestTime: Double, responseTime: Double)
        -> Double
    {
        let dateValue = CacheFieldSyntax.singleDate(date) ?? responseTime
        let apparentAge = max(0, responseTime - dateValue)
        let ageValue = CacheFieldSyntax.listMembers(age).first.flatMap(CacheFieldSyntax.deltaSeconds) ?? 0
        let responseDelay = max(0, responseTime - requestTime)
        return max(apparentAge, Double(ageValue) + responseDelay)
    }

    private func capped(_ lifetime: Double) -> Double {
        min(max(0, lifetime), configuration.maxTTL)
    }
}
