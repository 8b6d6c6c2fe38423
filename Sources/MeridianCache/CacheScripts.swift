/// The cache's Lua scripts. The keys of one cached URL share a hash tag (`{<hash of the primary key>}`), so each
/// script runs on one slot of a Redis Cluster. Entries are hashes: `m` the metadata (``CacheEntryMetadata/encoded()``),
/// `b` the body, `k` the variant key in full (a hash collision is noticed, not served), `t` when Redis stored it (ms),
/// `u` until when (ms, the instances' clock) it may be served without asking the origin. A lookup is no script: one
/// `HMGET` of all five (``L2Store/lookup(_:variantKey:now:readVary:patient:on:_:)``; a body through Lua costs Redis
/// 30 times a plain read), and a revalidation that needs the body of an entry it judged stale reads `b` again.
enum CacheScripts {
    /// Stores an entry, keeps the URL's vary marker in step, releases the fill lock if this fill holds it and
    /// tells the waiting instances.
    /// KEYS: 1 entry, 2 vary marker, 3 fill lock, 4 the URL's entry without variants, 5 the set of the URL's
    /// variant entries (for invalidation).
    /// ARGV: 1 meta, 2 body, 3 variant key, 4 usable until (ms), 5 time to live (ms), 6 vary fields (`` none),
    /// 7 lock token (`` none), 8 channel, 9 message.
    /// Returns Redis's time (ms) of the store.
    static let store = #"""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[5])
        redis.call('HSET', KEYS[1], 'm', ARGV[1], 'b', ARGV[2], 'k', ARGV[3], 't', now, 'u', ARGV[4])
        redis.call('PEXPIRE', KEYS[1], ttl)
        if ARGV[6] ~= '' then
          local left = redis.call('PTTL', KEYS[2])
          redis.call('SET', KEYS[2], ARGV[6], 'PX', math.max(ttl, left))
          redis.call('DEL', KEYS[4])
          redis.call('SADD', KEYS[5], KEYS[1])
          redis.call('PEXPIRE', KEYS[5], math.max(ttl, redis.call('PTTL', KEYS[5])))
        else
          redis.call('DEL', KEYS[2])
        end
        if ARGV[7] ~= '' and redis.call('GET', KEYS[3]) == ARGV[7] then redis.call('DEL', KEYS[3]) end
        redis.call('PUBLISH', ARGV[8], ARGV[9])
        return now
        """#

    /// Takes the fill lock of a variant unless the variant is already stored: a request that missed in L2 (or whose
    /// lookup timed out) and reaches the lock after another instance's fill was stored reads that fill instead of
    /// going to the origin again (scripts/cluster-check.sh saw a second origin request this way under a 1,000-request
    /// burst). "Stored" means: the full variant key, servable at `now`, and stored after every purge rule the caller
    /// knows (an entry a rule may cover takes the lock as a miss does).
    /// KEYS: 1 lock, 2 entry. ARGV: 1 token, 2 time to live (ms), 3 now (ms), 4 variant key, 5 newest purge rule (ms).
    /// Returns 1 (locked), 0 (another holds it), 2 (stored: read it).
    static let lock = #"""
        local e = redis.call('HMGET', KEYS[2], 'k', 't', 'u')
        if e[1] == ARGV[4] and tonumber(e[3]) >= tonumber(ARGV[3]) and tonumber(e[2]) > tonumber(ARGV[5]) then return 2 end
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
        return 0
        """#

    /// KEYS: 1 lock. ARGV: 1 token, 2 channel, 3 message. Releases the lock if held by `token` and tells the waiters.
    static let release = #"""
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
        redis.call('PUBLISH', ARGV[2], ARGV[3])
        return 1
        """#

    /// KEYS: 1 lock. ARGV: 1 token, 2 time to live (ms). Extends the lock while its holder's fill goes on.
    static let renew = #"""
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """#

    /// Invalidates one URL (RFC 9111 §4.4, and purges by URL): its plain entry, vary marker and every variant go;
    /// the instances are told to drop their L1 copies.
    /// KEYS: 1 plain entry, 2 vary marker, 3 the set of variant entries. ARGV: 1 channel, 2 message (the URL).
    static let invalidate = #"""
        local variants = redis.call('SMEMBERS', KEYS[3])
        for _, key in ipairs(variants) do redis.call('DEL', key) end
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
        redis.call('PUBLISH', ARGV[1], ARGV[2])
        return #variants
        """#

    /// Records a purge rule with Redis's time, forgets rules past the retention, and publishes it.
    /// KEYS: 1 the rules (sorted set by time). ARGV: 1 kind, 2 value, 3 id, 4 channel, 5 retention (ms).
    /// Returns the rule as stored (JSON).
    static let purge = #"""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local rule = cjson.encode({k = ARGV[1], v = ARGV[2], id = ARGV[3], t = now})
        redis.call('ZADD', KEYS[1], now, rule)
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[5]))
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
        redis.call('PUBLISH', ARGV[4], rule)
        return rule
        """#
}
