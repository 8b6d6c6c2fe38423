internal import MeridianCore

/// What L1 holds for a request: the URL's slot, and through a `vary` marker the variant the request selects. One
/// walk for the hit path and for a request that waited for a fill; an entry in a coding the request cannot take
/// (``CachedEntry/isAcceptable(to:)``) counts as absent.
struct L1Lookup {
    /// The entry found, if any.
    var entry: CachedEntry?
    /// The fields the URL varies on, when its slot is a vary marker.
    var varyFields: [String]?
    /// The key the entry is (or would be) stored under.
    var variantKey: String
    /// The URL's last response could not be stored: no waiting behind others.
    var pass = false

    init(_ memory: MemoryStore<L1Slot>, primary: CacheKey, request: Request, now: Double) {
        variantKey = primary.primary
        switch memory.get(primary.primary, now: now) {
        case .entry(let found)?:
            entry = found
        case .vary(let fields)?:
            varyFields = fields
            variantKey = primary.variant(fields: fields, requestHeaders: request.fields)
            if case .entry(let found)? = memory.get(variantKey, now: now) { entry = found }
        case .pass?:
            pass = true
        case nil:
            break
        }
        if let found = entry, !found.isAcceptable(to: request) { entry = nil }
    }
}
