/// The global rate limits' Lua scripts: GCRA on one Redis key per limited key, in Redis server time.
///
/// The key holds GCRA's theoretical arrival time (TAT) as integer microseconds of the Redis server's clock
/// (`TIME`), so instance clocks never matter; `TAT - now` is how long the bucket needs to be full again, and the key
/// expires (`PX`) exactly then, so idle keys vanish and a missing key is a full bucket. All three scripts take the
/// same arguments first (emission interval, burst: ``arguments(_:_:)``), touch only `KEYS[1]` (Redis Cluster routes
/// them by that key's slot; a hash tag such as `meridian:rl:{route:key}` is the caller's naming choice), and answer
/// arrays of integers.
///
/// A TAT further ahead than a drained bucket allows (the server clock stepped back, or a failover to a replica
/// whose clock is behind) is taken as a drained bucket, so a clock step never refuses a key for longer than the
/// bucket takes to fill.
///
/// The emission interval is whole microseconds (``RateLimitQuota/emissionIntervalMicroseconds``, rounded up), so a
/// global limit may admit slightly less than a local one with the same quota, never more.
extension RedisScripts {
    /// Exact mode: takes `cost` tokens from the global bucket, or refuses.
    ///
    /// - `KEYS[1]`: the limit's key.
    /// - `ARGV[1]`: emission interval in µs (`period / rate`, ≥ 1); `ARGV[2]`: burst (≥ 1); `ARGV[3]`: cost (≥ 0).
    /// - Returns `{allowed, remaining, retry_after_us, reset_us}`: `allowed` 1 or 0; `remaining` whole tokens left
    ///   (after this request when allowed); `retry_after_us` 0 when allowed, the wait until `cost` tokens exist
    ///   when refused, and -1 when `cost > burst` (never); `reset_us` the time until the bucket is full.
    /// - Writes the new TAT with `PX` = `reset_us` in ms, rounded up, when allowed; a refusal writes nothing.
    /// The start both bucket scripts share: the arguments, Redis's clock in µs, and the bucket's debt (how far its
    /// theoretical arrival time is ahead of now, clamped to a drained bucket: a clock stepped back cannot make a
    /// bucket emptier than empty). `count` is `ARGV[3]`: the cost or the tokens wanted.
    static let bucketPrelude = #"""
        if redis.replicate_commands then redis.replicate_commands() end
        local interval = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local count = tonumber(ARGV[3])
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local capacity = burst * interval
        local tat = tonumber(redis.call('GET', KEYS[1])) or now
        if tat < now then tat = now end
        if tat > now + capacity then tat = now + capacity end
        local debt = tat - now

        """#

    public static let gcraScript = bucketPrelude + #"""
        local cost = count
        if cost > burst then
          return {0, math.floor((capacity - debt) / interval), -1, debt}
        end
        local owed = debt + cost * interval
        if owed > capacity then
          return {0, math.floor((capacity - debt) / interval), owed - capacity, debt}
        end
        if owed > 0 then
          redis.call('SET', KEYS[1], string.format('%d', now + owed), 'PX', math.ceil(owed / 1000))
        end
        return {1, math.floor((capacity - owed) / interval), 0, owed}
        """#

    /// Batched mode: grants up to `want` tokens, as many as the global bucket holds now (possibly none), for an
    /// instance to spend locally (``LeaseLedger``).
    ///
    /// - `KEYS[1]`: the limit's key.
    /// - `ARGV[1]`: emission interval in µs (≥ 1); `ARGV[2]`: burst (≥ 1); `ARGV[3]`: want (≥ 0).
    /// - Returns `{granted, remaining, retry_after_us, reset_us}`: `granted` 0...want; `remaining` whole tokens
    ///   left after the grant; `retry_after_us` when nothing was granted (and something was wanted) the wait until
    ///   one token exists, else 0; `reset_us` the time until the bucket is full.
    /// - Writes the new TAT with `PX` as ``gcraScript`` does, when it grants anything.
    public static let leaseScript = bucketPrelude + #"""
        local want = count
        local available = math.floor((capacity - debt) / interval)
        local granted = math.max(0, math.min(want, available))
        local owed = debt + granted * interval
        if granted > 0 then
          redis.call('SET', KEYS[1], string.format('%d', now + owed), 'PX', math.ceil(owed / 1000))
        end
        local retry_after = 0
        if granted == 0 and want > 0 then retry_after = debt + interval - capacity end
        return {granted, available - granted, retry_after, owed}
        """#

    /// Batched mode: gives back `n` leased tokens that were not spent, moving the TAT back by `n` intervals but
    /// never before now (a bucket cannot be fuller than full; tokens given back late are partly lost, never
    /// created).
    ///
    /// - `KEYS[1]`: the limit's key.
    /// - `ARGV[1]`: emission interval in µs (≥ 1); `ARGV[2]`: burst (≥ 1); `ARGV[3]`: n (≥ 0).
    /// - Returns `{remaining, reset_us}` after the return.
    /// - Deletes the key when the bucket is full again, else rewrites the TAT with its `PX`.
    public static let returnScript = #"""
        if redis.replicate_commands then redis.replicate_commands() end
        local interval = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local n = tonumber(ARGV[3])
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
        local capacity = burst * interval
        local tat = tonumber(redis.call('GET', KEYS[1]))
        if not tat or tat <= now then return {burst, 0} end
        if tat > now + capacity then tat = now + capacity end
        local debt = tat - n * interval - now
        if debt <= 0 then
          redis.call('DEL', KEYS[1])
          return {burst, 0}
        end
        redis.call('SET', KEYS[1], string.format('%d', now + debt), 'PX', math.ceil(debt / 1000))
        return {math.floor((capacity - debt) / interval), debt}
        """#

    /// `ARGV` for any of the three scripts: the quota's emission interval in µs, its burst, and `count` (the
    /// cost, the tokens wanted, or the tokens given back).
    public static func arguments(_ quota: RateLimitQuota, _ count: Int) -> [String] {
        ["\(quota.emissionIntervalMicroseconds)", "\(quota.burst)", "\(count)"]
    }

    /// The decision in a ``gcraScript`` reply, or `nil` when the reply is not four integers.
    public static func decision(gcraReply reply: [Int], quota: RateLimitQuota) -> RateLimitDecision? {
        guard reply.count == 4, reply[0] == 0 || reply[0] == 1 else { return nil }
        let interval = Int(quota.emissionIntervalMicroseconds)
        let remaining = reply[1]
        let reset = reply[3]
        var nextRefill: Duration?
        if remaining < quota.burst {
            nextRefill = .microseconds(max(0, reset - (quota.burst - remaining - 1) * interval))
        }
        return RateLimitDecision(
            allowed: reply[0] == 1,
            limit: quota.burst,
            remaining: remaining,
            retryAfter: reply[0] == 1 || reply[2] < 0 ? nil : .microseconds(reply[2]),
            reset: .microseconds(reset),
            nextRefill: nextRefill
        )
    }

    /// A ``leaseScript`` reply.
    public struct LeaseReply: Sendable, Equatable {
        public var granted: Int
        public var remaining: Int
        /// When nothing was granted, the wait until a token exists (for ``LeaseLedger/granted(key:tokens:retryAfter:at:)``).
        public var retryAfter: Duration?
        public var reset: Duration

        /// `nil` when the reply is not four integers.
        public init?(_ reply: [Int]) {
            guard reply.count == 4, reply[0] >= 0 else { return nil }
            granted = reply[0]
            remaining = reply[1]
            retryAfter = reply[2] > 0 ? .microseconds(reply[2]) : nil
            reset = .microseconds(reply[3])
        }
    }
}
