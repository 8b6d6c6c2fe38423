public import Logging
public import MeridianRedis
public import MeridianSecurity
internal import NIOConcurrencyHelpers
public import NIOCore

/// Brute-force counting and bans across the cluster (``MeridianSecurity/BanSharing``).
///
/// One script call per failed authentication counts it in a window key and, at the threshold, sets a ban key
/// whose TTL is the ban (doubled per repeat, capped), records it in a sorted set for the admin list, and publishes
/// it on `<prefix>:bans`; every instance applies published bans and lifts to its local table, which is all a
/// request consults. Every key shares the hash tag `{<prefix>:bf}`, so the scripts run on one node of a Redis
/// Cluster.
public final class SharedBans: BanSharing {
    let client: RedisClient
    let channel: String
    let tag: String
    let logger: Logger
    private let handlers = NIOLockedValueBox<(ban: @Sendable (String, Duration) -> Void, lift: @Sendable (String) -> Void)?>(nil)
    static let fail = RedisScript(
        """
        local left = redis.call('PTTL', KEYS[3])
        if left > 0 then return left end
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        if n < tonumber(ARGV[2]) then return 0 end
        redis.call('DEL', KEYS[1])
        local strikes = redis.call('INCR', KEYS[2])
        local maxBan = tonumber(ARGV[4])
        local d = tonumber(ARGV[3])
        for i = 2, strikes do
          if d >= maxBan then break end
          d = d * 2
        end
        if d > maxBan then d = maxBan end
        redis.call('PEXPIRE', KEYS[2], d + maxBan)
        redis.call('SET', KEYS[3], '1', 'PX', d)
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
        redis.call('ZADD', KEYS[4], now + d, ARGV[6])
        redis.call('PUBLISH', ARGV[5], 'ban\\n' .. ARGV[6] .. '\\n' .. d)
        return d
        """
    )
    static let lift = RedisScript(
        """
        local had = redis.call('DEL', KEYS[1])
        redis.call('DEL', KEYS[2], KEYS[3])
        redis.call('ZREM', KEYS[4], ARGV[2])
        redis.call('PUBLISH', ARGV[1], 'lift\\n' .. ARGV[2])
        return had
        """
    )
    static let list = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        local items = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
        local out = {}
        for i = 1, #items, 2 do
          out[#out + 1] = items[i]
          out[#out + 1] = tonumber(items[i + 1]) - now
        end
        return out
        """
    )

    public init(client: RedisClient, keyPrefix: String, logger: Logger) {
        self.client = client
        self.channel = "\(keyPrefix):bans"
        self.tag = "{\(keyPrefix):bf}"
        self.logger = logger
    }

    public var isActive: Bool { !client.isDegraded }

    func keys(_ key: String) -> [String] {
        ["\(tag):fail:\(key)", "\(tag):strikes:\(key)", "\(tag):ban:\(key)", "\(tag):bans"]
    }

    public func failed(_ key: String, settings: BruteForcePolicy<ContinuousClock.Instant>.Settings, on eventLoop: any EventLoop)
        -> EventLoopFuture<Duration?>
    {
        let args: [RedisArgument] = [
            RedisArgument(Self.ms(settings.window)), RedisArgument(settings.maxFailures), RedisArgument(Self.ms(settings.ban)),
            RedisArgument(Self.ms(settings.maxBan)), .string(channel), .string(key),
        ]
        return client.run(Self.fail, keys: keys(key), arguments: args, on: eventLoop).map { value in
            guard let ms = value.int, ms > 0 else { return nil }
            return .milliseconds(ms)
        }.recover { [logger] error in
            logger.debug("brute-force count through Redis failed", metadata: ["error": "\(error)"])
            return nil
        }
    }

    public func lift(_ key: String) -> EventLoopFuture<Bool> {
        let k = keys(key)
        return client.run(Self.lift, keys: [k[2], k[1], k[0], k[3]], arguments: [.string(channel), .string(key)]).map { ($0.int ?? 0) > 0 }
    }

    public func bans() -> EventLoopFuture<[(key: String, remaining: Duration)]> {
        client.run(Self.list, keys: ["\(tag):bans"], arguments: []).map { value in
            let items = value.array ?? []
            return stride(from: 0, to: items.count - 1, by: 2).compactMap { i -> (key: String, remaining: Duration)? in
                guard let key = items[i].string, let ms = items[i + 1].int, ms > 0 else { return nil }
                return (key, .milliseconds(ms))
            }.sorted { $0.remaining > $1.remaining }
        }
    }

    /// Points the announcements at the running guard (a reload that changes `brute_force:` makes a new one); the
    /// channel is subscribed once.
    public func start(onBan: @escaping @Sendable (String, Duration) -> Void, onLift: @escaping @Sendable (String) -> Void) {
        let first = handlers.withLockedValue { h in
            defer { h = (onBan, onLift) }
            return h == nil
        }
        guard first else { return }
        let handlers = self.handlers
        client.subscribe(channel) { _, message in
            guard let (onBan, onLift) = handlers.withLockedValue({ $0 }) else { return }
            let parts = String(buffer: message).split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
            switch (parts.first, parts.count) {
            case ("ban", 3): if let ms = Int64(parts[2]) { onBan(String(parts[1]), .milliseconds(ms)) }
            case ("lift", 2): onLift(String(parts[1]))
            default: break
            }
        }
    }

    static func ms(_ d: Duration) -> Int64 {
        d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }
}
