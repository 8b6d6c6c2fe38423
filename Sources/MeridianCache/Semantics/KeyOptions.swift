/// How a route builds the primary cache key from a URL's query (RFC 9111 §2: the key is the method and target URI,
/// which a cache may normalise).
public struct KeyOptions: Sendable, Equatable {
    /// Query parameters left out of the key, matched by their percent-decoded name (`utm_source`, `fbclid`).
    public var ignoredQueryParameters: Set<String>
    /// Sort the parameters by name, then value, so `?a=1&b=2` and `?b=2&a=1` share an entry. Off keeps the order,
    /// for origins where it matters.
    public var sortQuery: Bool
    /// Off leaves the query out of the key altogether: every query of a path shares one entry.
    public var includeQuery: Bool

    public init(ignoredQueryParameters: Set<String> = [], sortQuery: Bool = true, includeQuery: Bool = true) {
        self.ignoredQueryParameters = ignoredQueryParameters
        self.sortQuery = sortQuery
        self.includeQuery = includeQuery
    }
}
