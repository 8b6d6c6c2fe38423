/// The tokens one instance has leased from a global limit in batched mode, per key, spent locally so that most
/// requests cost no Redis call.
///
/// The global bucket lives in Redis (``RedisScripts/leaseScript``, GCRA in server time); an instance leases up to
/// ``Configuration/batch`` tokens at a time, spends them one request at a time, asks for more in the background
/// when it runs low, and gives back what it has not spent after ``Configuration/leaseTTL``
/// (``RedisScripts/returnScript``). A refusal from Redis is remembered until its retry-after, so a limited key costs
/// no Redis call per request either.
///
/// **Overshoot.** Over any window, the requests admitted across the cluster exceed the limit by at most
/// `instances × batch`. Redis grants no more than the quota allows over the window (GCRA: `burst` plus the
/// window's refill), and every admitted request spends a granted token; but a token may be granted in one window
/// and spent in the next. Each instance holds at most `batch` tokens per key at any moment (a refill asks only for
/// what is missing up to `batch`), so at the start of a window at most `instances × batch` tokens granted earlier
/// are in hand, and those are the whole excess. The lease TTL does not change that bound: it keeps idle instances
/// from stranding tokens (under-admission elsewhere) and bounds how old a spent token can be. Exact mode
/// (``RedisScripts/gcraScript``, one Redis call per request) has no overshoot.
///
/// Pure: the caller runs the Redis scripts the decisions ask for and reports the answers; it also calls
/// ``expired(at:)`` on a timer (every `leaseTTL / 2` or so) and returns what it gives back. When Redis is down, the
/// caller reports ``leaseFailed(key:at:)`` and falls back to a local limit at the instance's share.
/// Keys are bounded as in ``RateLimitTable``.
public struct LeaseLedger<C: Clock>: Sendable where C.Duration == Duration {
    /// Unspent tokens to give back to Redis for one key.
    public struct Unused: Sendable, Equatable {
        public var key: String
        public var tokens: Int

        public init(key: String, tokens: Int) {
            self.key = key
            self.tokens = tokens
        }
    }

    public let configuration: Configuration
    /// Keys forgotten while they held tokens or waited for a lease; their tokens are given back through
    /// ``expired(at:)`` (information lost only in that the key starts cold again).
    public private(set) var evictedCount = 0

    private struct Hand: Sendable {
        var tokens = 0
        /// When the latest grant arrived: the TTL of the tokens in hand counts from here.
        var leasedAt: C.Instant
        var leaseInFlight = false
        /// Redis refused a lease: no lease is asked for before this.
        var refusedUntil: C.Instant?

        /// Whether the hand holds nothing worth keeping at `now`: a new hand would be the same.
        func isIdle(at now: C.Instant) -> Bool {
            tokens == 0 && !leaseInFlight && (refusedUntil.map { $0 <= now } ?? true)
        }
    }

    private var hands = KeyedLRU<Hand>()
    /// Tokens of evicted keys (held, or granted after the key was evicted), handed out by ``expired(at:)``.
    private var pendingReturns: [Unused] = []
    private var insertsSinceSweep = 0

    public init(_ configuration: Configuration = .init()) {
        if let problem = configuration.problem { preconditionFailure(problem) }
        self.configuration = configuration
    }

    /// Keys held now.
    public var count: Int { hands.count }

    /// Slots ever allocated: what the ledger's memory is sized by (for tests of the bound).
    var allocatedSlots: Int { hands.allocatedSlots }

    /// Tokens in hand for `key`.
    public func tokensInHand(key: String) -> Int {
        hands.value(forKey: key)?.tokens ?? 0
    }

    /// Whether a request of `key` may go ahead, spending a local token, or what to ask Redis first.
    public mutating func take(key: String, at now: C.Instant) -> LeaseDecision {
        let configuration = configuration
        let decision = hands.update(key) { hand -> LeaseDecision in
            if let until = hand.refusedUntil, until <= now { hand.refusedUntil = nil }
            if hand.tokens > 0 {
                hand.tokens -= 1
                guard hand.tokens <= configuration.lowWater, !hand.leaseInFlight, hand.refusedUntil == nil else {
                    return .allowed(inHand: hand.tokens)
                }
                hand.leaseInFlight = true
                return .allowedAndRefill(inHand: hand.tokens, want: configuration.batch - hand.tokens)
            }
            if let until = hand.refusedUntil { return .refused(retryAfter: now.duration(to: until)) }
            if hand.leaseInFlight { return .waitingForLease }
            hand.leaseInFlight = true
            return .mustLease(want: configuration.batch)
        }
        if let decision { return decision }
        makeRoom(at: now)
        hands.insert(key, Hand(leasedAt: now, leaseInFlight: true))
        return .mustLease(want: configuration.batch)
    }

    /// Reports the answer to a lease the ledger asked for: `tokens` granted (possibly 0) and, when none were,
    /// Redis's retry-after, remembered as a refusal until then.
    ///
    /// Tokens granted for a key that was evicted meanwhile are given back through ``expired(at:)``.
    public mutating func granted(key: String, tokens: Int, retryAfter: Duration?, at now: C.Instant) {
        precondition(tokens >= 0, "a lease cannot grant \(tokens) tokens")
        let known: Void? = hands.update(key, touch: false) { hand in
            hand.leaseInFlight = false
            if tokens > 0 {
                hand.tokens += tokens
                hand.leasedAt = now
                hand.refusedUntil = nil
            } else if let retryAfter, retryAfter > .zero {
                hand.refusedUntil = now.advanced(by: retryAfter)
            }
        }
        if known == nil, tokens > 0 {
            pendingReturns.append(Unused(key: key, tokens: tokens))
        }
    }

    /// The lease could not be had (Redis unreachable, timed out): the key may ask again. The caller decides what
    /// the waiting requests get meanwhile (its degraded-mode local limit).
    public mutating func leaseFailed(key: String, at now: C.Instant) {
        _ = hands.update(key, touch: false) { $0.leaseInFlight = false }
    }

    /// Takes back the tokens held longer than ``Configuration/leaseTTL`` since their latest grant, and those of
    /// evicted keys, for the caller to give back to Redis (``RedisScripts/returnScript``); forgets idle keys.
    ///
    /// O(keys): call it from a timer, every `leaseTTL / 2` or so.
    public mutating func expired(at now: C.Instant) -> [Unused] {
        var unused = pendingReturns
        pendingReturns = []
        let ttl = configuration.leaseTTL
        insertsSinceSweep = 0
        hands.sweep { key, hand in
            if hand.tokens > 0, hand.leasedAt.advanced(by: ttl) <= now {
                unused.append(Unused(key: key, tokens: hand.tokens))
                hand.tokens = 0
            }
            return hand.isIdle(at: now)
        }
        return unused
    }

    private mutating func makeRoom(at now: C.Instant) {
        guard hands.count >= configuration.maxKeys else { return }
        if let (key, hand) = hands.leastRecentlyUsed, hand.isIdle(at: now) {
            hands.remove(key)
            return
        }
        insertsSinceSweep += 1
        if insertsSinceSweep >= max(1, configuration.maxKeys / 8) {
            insertsSinceSweep = 0
            if hands.sweep({ _, hand in hand.isIdle(at: now) }) > 0 { return }
        }
        if let (key, hand) = hands.leastRecentlyUsed {
            hands.remove(key)
            evictedCount += 1
            if hand.tokens > 0 { pendingReturns.append(Unused(key: key, tokens: hand.tokens)) }
        }
    }
}
