extension RedisScripts {
    /// Records one instance's batch of outcomes for one endpoint and decides the cluster-wide open.
    ///
    /// KEYS: 1 window (hash: `s:<bucket>`, `f:<bucket>`, `r:<bucket>:<instance>` = failures that instance reported),
    /// 2 state (`open`, expiring with the open period), 3 backoff (the last period, kept `reset` longer),
    /// 4 probe tokens, 5 probe successes — one hash tag, one slot.
    /// ARGV: 1 instance, 2 successes, 3 failures, 4 bucket ms, 5 buckets, 6 minimum requests, 7 failure ratio,
    /// 8 minimum reporting instances, 9 minimum reporting share (0 = off), 10 live instances, 11 open base ms,
    /// 12 open max ms, 13 backoff reset ms, 14 channel, 15 cluster, 16 endpoint, 17 failures that make an instance a
    /// reporter.
    /// Returns `{0, reporters}` (closed), `{1, pttl}` (already open), or `{2, period}` (opened now and published).
    ///
    /// The quorum rule: the window's failure ratio over all instances' outcomes must reach the threshold over at
    /// least the minimum number of requests, and the failures must come from at least `min_reporting_instances`
    /// instances (or that share of the live ones): one instance's own network trouble cannot open everyone's breaker.
    /// Time is Redis's (`TIME`), so the instances' clocks do not matter.
    public static let breakerRecordScript = #"""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local width = tonumber(ARGV[4])
        local buckets = tonumber(ARGV[5])
        local current = math.floor(now / width)
        if redis.call('EXISTS', KEYS[2]) == 1 then return {1, redis.call('PTTL', KEYS[2])} end
        local s = tonumber(ARGV[2])
        local f = tonumber(ARGV[3])
        if s > 0 then redis.call('HINCRBY', KEYS[1], 's:' .. current, s) end
        if f > 0 then
          redis.call('HINCRBY', KEYS[1], 'f:' .. current, f)
          redis.call('HINCRBY', KEYS[1], 'r:' .. current .. ':' .. ARGV[1], f)
        end
        redis.call('PEXPIRE', KEYS[1], width * buckets * 2)
        local all = redis.call('HGETALL', KEYS[1])
        local succ, fail, reporters, seen = 0, 0, 0, {}
        for i = 1, #all, 2 do
          local field = all[i]
          local kind = string.sub(field, 1, 1)
          local rest = string.sub(field, 3)
          local colon = string.find(rest, ':', 1, true)
          local bucket = tonumber(colon and string.sub(rest, 1, colon - 1) or rest)
          if bucket == nil or bucket <= current - buckets then
            redis.call('HDEL', KEYS[1], field)
          elseif kind == 's' then
            succ = succ + tonumber(all[i + 1])
          elseif kind == 'f' then
            fail = fail + tonumber(all[i + 1])
          elseif kind == 'r' and colon then
            local who = string.sub(rest, colon + 1)
            seen[who] = (seen[who] or 0) + tonumber(all[i + 1])
          end
        end
        -- An instance reports the trouble when it saw at least ARGV[17] failures in the window: one stray 502
        -- does not make an instance a witness.
        for _, n in pairs(seen) do
          if n >= tonumber(ARGV[17]) then reporters = reporters + 1 end
        end
        local total = succ + fail
        if total == 0 or total < tonumber(ARGV[6]) or fail / total < tonumber(ARGV[7]) then return {0, reporters} end
        local live = math.max(tonumber(ARGV[10]), 1)
        local share = tonumber(ARGV[9])
        if reporters < tonumber(ARGV[8]) and not (share > 0 and reporters / live >= share) then return {0, reporters} end
        local period = tonumber(ARGV[11])
        local last = redis.call('GET', KEYS[3])
        if last then period = math.min(tonumber(last) * 2, tonumber(ARGV[12])) end
        redis.call('SET', KEYS[2], 'open', 'PX', period)
        redis.call('SET', KEYS[3], period, 'PX', period + tonumber(ARGV[13]))
        redis.call('DEL', KEYS[1], KEYS[4], KEYS[5])
        local ratio = math.floor(fail * 100 / total + 0.5) / 100
        redis.call('PUBLISH', ARGV[14], 'open\t' .. ARGV[15] .. '\t' .. ARGV[16] .. '\t' .. period .. '\tfailure ratio ' .. ratio ..
          ' over ' .. total .. ' requests from ' .. reporters .. ' instances')
        return {2, period}
        """#

    /// Hands out one cluster-wide half-open probe token, at most `max` per half-open spell.
    /// KEYS: 1 state, 2 probe tokens. ARGV: 1 max probes, 2 token lifetime ms (tokens of an instance that died come
    /// back after it). Returns 1 (probe) or 0 (still open, or every token taken).
    public static let breakerProbeScript = #"""
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        local n = redis.call('INCR', KEYS[2])
        if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
        if n <= tonumber(ARGV[1]) then return 1 end
        return 0
        """#

    /// A probe's verdict. KEYS: 1 state, 2 probe tokens, 3 probe successes, 4 backoff, 5 window.
    /// ARGV: 1 success (1/0), 2 successes to close, 3 open base ms, 4 open max ms, 5 backoff reset ms, 6 channel,
    /// 7 cluster, 8 endpoint. Returns 2 (closed and published), 1 (counted, or stale: the breaker is open again),
    /// 0 (reopened and published).
    public static let breakerProbeResultScript = #"""
        -- A verdict that arrives after the cluster reopened the breaker (another probe failed first) is stale:
        -- it must neither close the breaker in the middle of its open period nor double the period again.
        if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
        if ARGV[1] == '1' then
          local n = redis.call('INCR', KEYS[3])
          redis.call('PEXPIRE', KEYS[3], 60000)
          if n >= tonumber(ARGV[2]) then
            redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[5])
            redis.call('PUBLISH', ARGV[6], 'closed\t' .. ARGV[7] .. '\t' .. ARGV[8] .. '\t0\t' .. n .. ' probes succeeded')
            return 2
          end
          return 1
        end
        local period = tonumber(ARGV[3])
        local last = redis.call('GET', KEYS[4])
        if last then period = math.min(tonumber(last) * 2, tonumber(ARGV[4])) end
        redis.call('SET', KEYS[1], 'open', 'PX', period)
        redis.call('SET', KEYS[4], period, 'PX', period + tonumber(ARGV[5]))
        redis.call('DEL', KEYS[2], KEYS[3])
        redis.call('PUBLISH', ARGV[6], 'open\t' .. ARGV[7] .. '\t' .. ARGV[8] .. '\t' .. period .. '\tprobe failed')
        return 0
        """#

    /// Heartbeat: this instance is alive now; answers how many are (seen within the last `ttl`).
    /// KEYS: 1 the instances' sorted set. ARGV: 1 instance, 2 ttl ms.
    public static let heartbeatScript = #"""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZADD', KEYS[1], now, ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
        return redis.call('ZRANGE', KEYS[1], 0, -1)
        """#
}
