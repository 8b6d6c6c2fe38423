/// What to do with a request under a global limit in batched mode (``LeaseLedger/take(key:at:)``).
///
/// The `lease…` cases tell the caller to run ``RedisScripts/leaseScript`` and report its answer with
/// ``LeaseLedger/granted(key:tokens:retryAfter:at:)`` (or ``LeaseLedger/leaseFailed(key:at:)``); the ledger has
/// already marked that lease in flight, so no other request of the key asks Redis meanwhile.
public enum LeaseDecision: Sendable, Equatable {
    /// Go ahead: a local token was spent, `inHand` are left.
    case allowed(inHand: Int)
    /// Go ahead, and lease `want` more tokens in the background without holding this request: the hand fell to
    /// the low-water mark.
    case allowedAndRefill(inHand: Int, want: Int)
    /// Nothing in hand and no lease in flight: lease `want` tokens, and when they are granted, ask
    /// ``LeaseLedger/take(key:at:)`` again for this request. Waiting costs a Redis round trip, once per key per
    /// instance when the key goes cold. A caller that prefers latency may admit the request at once (fail open)
    /// and lease in the background; that adds at most one request per instance to the overshoot.
    case mustLease(want: Int)
    /// Nothing in hand and a lease is in flight: wait for it to be reported, then ask again. A caller that does
    /// not queue requests may admit (fail open) or refuse (fail closed) instead; the ledger does not decide.
    case waitingForLease
    /// Redis said the global bucket is empty; answer 429 with this Retry-After. The ledger remembers the refusal
    /// until then, so a limited key costs no Redis call per request.
    case refused(retryAfter: Duration)
}
