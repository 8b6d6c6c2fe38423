/// Whether a response goes into the cache, and in what form (RFC 9111 §3).
public enum StorageDecision: Sendable, Equatable {
    /// Store it: the metadata holds the filtered fields and the computed age and freshness.
    case store(CacheEntryMetadata)
    /// Pass it through without storing.
    case doNotStore(reason: NotStoredReason)
}

/// Why a response was not stored, each naming the RFC 9111 rule behind it.
///
/// `text` is an sf-token, ready for the `detail` parameter of `Cache-Status` (RFC 9211 §2.8).
public enum NotStoredReason: Sendable, Equatable, CaseIterable {
    /// A method other than GET (RFC 9111 §3). HEAD is answered from GET entries and never stored itself.
    case method
    /// The status code is not final (1xx) or not a status code at all (RFC 9111 §3).
    case status
    /// 206 (Partial Content): this cache does not combine ranges (RFC 9111 §3.3), so it stores only full responses.
    case partialContent
    /// 304 (Not Modified) updates a stored response (RFC 9111 §4.3.4); it is never stored on its own.
    case notModified
    /// `no-store` in the request (RFC 9111 §5.2.1.5).
    case requestNoStore
    /// `no-store` in the response (RFC 9111 §5.2.2.5).
    case noStore
    /// `must-understand` on a status code whose caching rules this cache does not implement (RFC 9111 §5.2.2.3).
    case mustUnderstand
    /// Unqualified `private`: a shared cache must not store it (RFC 9111 §5.2.2.7).
    case privateResponse
    /// The request carried `Authorization` and the response did not allow sharing it (RFC 9111 §3.5).
    case authorization
    /// `Vary: *` can never match a later request (RFC 9111 §4.1).
    case varyStar
    /// No explicit freshness, and the status code is not heuristically cacheable (RFC 9111 §3, §4.2.2).
    case noFreshness
    /// Stale on arrival, with no validator and no stale window: no later request could ever reuse it.
    case notReusable

    /// The reason as an sf-token for `Cache-Status: …; detail=…`.
    public var text: String {
        switch self {
        case .method: "method"
        case .status: "status"
        case .partialContent: "partial-content"
        case .notModified: "not-modified"
        case .requestNoStore: "request-no-store"
        case .noStore: "no-store"
        case .mustUnderstand: "must-understand"
        case .privateResponse: "private"
        case .authorization: "authorization"
        case .varyStar: "vary-star"
        case .noFreshness: "no-freshness"
        case .notReusable: "not-reusable"
        }
    }
}
