public import MeridianCore
public import MeridianRedis
internal import NIOCore

/// The session-ticket keys of the cluster, in Redis: one hash per TLS listener name holding `TicketKeySchedule`'s
/// keys (concatenated 80-byte keys, newest first) and the time of the last rotation. Every instance runs the step
/// as a script, so the first instance to see a rotation due makes it and the others adopt it at their next step.
///
/// The keys decrypt every session that used them: Redis here holds secrets, so give it TLS and an ACL user as
/// `redis:` allows (Caddy keeps its shared ticket keys in its storage for the same purpose).
public final class SharedTicketKeys: TicketKeySharing {
    let client: RedisClient
    let prefix: String

    /// The Lua form of `TicketKeySchedule.advanced` (and `.start`). KEYS: 1 the hash. ARGV: 1 now (ms), 2 rotation
    /// (ms), 3 keys kept in all (2 + keep), 4 and 5 candidate keys. Answers {rotatedAt, keys}.
    static let step = RedisScript(
        """
        local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '')
        local keys = redis.call('HGET', KEYS[1], 'keys')
        local now = tonumber(ARGV[1])
        local interval = tonumber(ARGV[2])
        local size = 80
        if not at or not keys or #keys < 2 * size or #keys % size ~= 0 then
          keys = ARGV[4] .. ARGV[5]
          at = now
        elseif now - at >= interval then
          keys = string.sub(ARGV[4] .. keys, 1, size * tonumber(ARGV[3]))
          at = now
        else
          return {tostring(at), keys}
        end
        redis.call('HSET', KEYS[1], 'at', tostring(at), 'keys', keys)
        redis.call('PEXPIRE', KEYS[1], interval * tonumber(ARGV[3]))
        return {tostring(at), keys}
        """
    )

    public init(client: RedisClient, keyPrefix: String) {
        self.client = client
        self.prefix = keyPrefix
    }

    public func exchange(listener: String, now: Int64, rotation: Duration, keep: Int, candidates: [[UInt8]]) async throws -> TicketKeySchedule {
        precondition(candidates.count == 2 && candidates.allSatisfy { $0.count == TicketKeySchedule.keyLength })
        let interval = rotation.components.seconds * 1000
        let reply = try await client.run(
            Self.step, keys: ["\(prefix):tls-tickets:\(listener)"],
            arguments: [
                RedisArgument(now), RedisArgument(interval), RedisArgument(2 + keep),
                RedisArgument(ByteBuffer(bytes: candidates[0])), RedisArgument(ByteBuffer(bytes: candidates[1])),
            ]
        ).get()
        guard let parts = reply.array, parts.count == 2, let at = parts[0].int, case .bulk(var blob) = parts[1],
            blob.readableBytes >= 2 * TicketKeySchedule.keyLength, blob.readableBytes % TicketKeySchedule.keyLength == 0
        else { throw SharedTicketKeysError(description: "unexpected reply (\(Self.shape(reply)))") }
        var keys: [[UInt8]] = []
        while let key = blob.readBytes(length: TicketKeySchedule.keyLength) { keys.append(key) }
        return TicketKeySchedule(keys: keys, rotatedAt: at)
    }
}

extension SharedTicketKeys {
    /// A reply's types and sizes, never its bytes: they would be key material in a log.
    static func shape(_ value: RedisValue) -> String {
        switch value {
        case .bulk(let b): return "bulk of \(b.readableBytes) bytes"
        case .array(let a): return "array [" + a.map(shape).joined(separator: ", ") + "]"
        case .error(let e): return "error \(e)"
        case .integer: return "integer"
        case .simple: return "simple string"
        case .null: return "null"
        }
    }
}

struct SharedTicketKeysError: Error, CustomStringConvertible {
    let description: String
}
