/// Whether a request may go ahead under one limit, with what a client is told about that limit.
///
/// The values map onto the header fields of draft-ietf-httpapi-ratelimit-headers (see ``RateLimitHeaders``):
/// `limit` is the policy's quota `q`, `remaining` is `r`, `nextRefill` is `t`, and `retryAfter` is the
/// `Retry-After` of a refusal (RFC 9110 §10.2.3).
public struct RateLimitDecision: Sendable, Equatable {
    /// Whether the request may go ahead; its tokens have been taken when it may.
    public var allowed: Bool
    /// The quota: the bucket's capacity (``RateLimitQuota/burst``).
    public var limit: Int
    /// Whole tokens left after this request (after nothing, when it was refused).
    public var remaining: Int
    /// For a refusal, how long until the tokens it asked for exist; `nil` when it was allowed, and `nil` for a
    /// refusal that no wait can cure: the request costs more than the whole bucket (see ``exceedsLimit``).
    public var retryAfter: Duration?
    /// How long until the bucket is full again (zero when it is full).
    public var reset: Duration
    /// How long until one more whole token exists; `nil` when the bucket is full and nothing more will come.
    /// The draft's `t` ("the time until additional quota is made available"): never later than `retryAfter`,
    /// as §6 of the draft asks of a response that carries both.
    public var nextRefill: Duration?

    public init(
        allowed: Bool, limit: Int, remaining: Int, retryAfter: Duration?, reset: Duration, nextRefill: Duration?
    ) {
        self.allowed = allowed
        self.limit = limit
        self.remaining = remaining
        self.retryAfter = retryAfter
        self.reset = reset
        self.nextRefill = nextRefill
    }

    /// A refusal that stands forever: the request costs more tokens than the bucket holds. Answer it without a
    /// Retry-After (413 for a body counted in bytes, 429 otherwise), since waiting cannot help.
    public var exceedsLimit: Bool {
        !allowed && retryAfter == nil
    }
}
