extension LeaseLedger {
    /// How many tokens an instance leases at a time, when it asks for more, and how long it may sit on them.
    ///
    /// Values are checked with preconditions when a ledger is made; the config layer validates user input
    /// first and reports it with its file and line.
    public struct Configuration: Sendable, Equatable {
        /// Tokens asked for at a time, and the most an instance holds for one key: a refill asks for
        /// `batch - inHand`. The overshoot of the global limit is at most `instances × batch` (see
        /// ``LeaseLedger``), and a key's burst should be several times `instances × batch` so that one instance's
        /// lease does not take what the others need: `burst / (4 × instances)` is a fair start.
        public var batch: Int
        /// When a request leaves this many tokens or fewer in hand, a refill is asked for in the background, so
        /// that a steady stream of requests never waits for Redis. 0 refills only when the hand is empty.
        public var lowWater: Int
        /// Tokens held this long after the latest grant go back to Redis (``LeaseLedger/expired(at:)``), so that
        /// an instance whose traffic moved elsewhere does not strand them while other instances are refused.
        public var leaseTTL: Duration
        /// The most keys held at once, as in ``RateLimitTable``.
        public var maxKeys: Int

        public init(batch: Int = 20, lowWater: Int = 5, leaseTTL: Duration = .seconds(1), maxKeys: Int = 100_000) {
            self.batch = batch
            self.lowWater = lowWater
            self.leaseTTL = leaseTTL
            self.maxKeys = maxKeys
        }

        /// What is wrong with these values, in words for a config error, or `nil` when they make a ledger.
        public var problem: String? {
            guard batch >= 1 else { return "batch must be at least 1 token, not \(batch)" }
            guard lowWater >= 0, lowWater < batch else {
                return "low_water must be at least 0 and below batch (\(batch)), not \(lowWater)"
            }
            guard leaseTTL > .zero else { return "lease_ttl must be longer than zero, not \(leaseTTL)" }
            guard maxKeys >= 1 else { return "max_keys must be at least 1, not \(maxKeys)" }
            return nil
        }
    }
}
