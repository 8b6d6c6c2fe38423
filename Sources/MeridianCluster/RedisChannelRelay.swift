public import Logging
public import MeridianConfig
public import MeridianRedis
public import MeridianWebSocket
public import NIOCore

/// Carries WebSocket and SSE channel messages between instances. A publish is one script call: it appends
/// the message to the channel's capped stream (its history, and the source of its id, so ids are one order
/// for the whole cluster) and publishes it with that id. Every instance listens with one PSUBSCRIBE on the
/// channel prefix, so a message reaches each instance once, in Redis's order, whichever instance published
/// it. A resuming SSE client reads the stream with XRANGE after its `Last-Event-ID`.
///
/// Every instance hears every channel (one pattern subscription): simple and robust to subscriber churn, at
/// the cost of traffic to instances without listeners; per-channel SUBSCRIBE, or sharded pub/sub
/// (SSUBSCRIBE, Redis 7) on a Redis Cluster, is the way past a few dozen instances.
public final class RedisChannelRelay: ChannelRelay {
    let client: RedisClient
    let config: Configuration.Channels
    let keyPrefix: String
    let logger: Logger

    public init(client: RedisClient, config: Configuration.Channels, keyPrefix: String, logger: Logger) {
        self.client = client
        self.config = config
        self.keyPrefix = keyPrefix
        self.logger = logger
    }

    /// The pub/sub channel of a message channel (`meridian:ch:room-1`).
    func pubsubChannel(_ channel: String) -> String { "\(keyPrefix):\(config.redisPrefix)\(channel)" }
    /// Its history stream (`meridian:chs:room-1`); one key, so the script runs on one slot of a cluster.
    func streamKey(_ channel: String) -> String { "\(keyPrefix):\(config.redisPrefix)stream:{\(channel)}" }

    public var isAvailable: Bool { !client.isDegraded }

    /// One publisher's messages stay in order because it has one publish in flight at a time (the WebSocket
    /// session waits for each answer): with several, a NOSCRIPT answer (a fresh or restarted Redis) sends the first
    /// ones round again after SCRIPT LOAD while the later ones, already loaded, overtake them — a test caught that.
    public func publish(
        channel: String, kind: ChannelMessage.Kind, payload: ByteBuffer, publishedAt: Int64, token: String, on eventLoop: any EventLoop
    ) -> EventLoopFuture<ChannelMessageID> {
        let ttl = Int(config.historyTTL.components.seconds * 1000)
        let kindText = kind == .text ? "t" : "b"
        return client.run(
            RedisScripts.channelPublish, keys: [streamKey(channel)],
            arguments: [
                .string(kindText), RedisArgument(publishedAt), RedisArgument(config.history), .bytes(payload), RedisArgument(max(ttl, 1000)),
                .string(pubsubChannel(channel)), .string(token),
            ],
            on: eventLoop
        ).flatMapThrowing { value in
            guard let text = value.string, let id = ChannelMessageID(text) else {
                throw RedisError.protocolError("channel publish answered \(value)")
            }
            return id
        }
    }

    public func history(channel: String, after id: ChannelMessageID, on eventLoop: any EventLoop) -> EventLoopFuture<[ChannelMessage]> {
        client.send(
            ["XRANGE", .string(streamKey(channel)), .string("(\(id))"), "+", "COUNT", RedisArgument(max(config.history, 1))],
            key: streamKey(channel), on: eventLoop
        ).flatMapThrowing { value in
            if case .error(let message) = value { throw RedisError.protocolError(message) }
            return (value.array ?? []).compactMap { Self.entry($0, channel: channel) }
        }
    }

    /// One XRANGE entry: `[id, [k, t|b, t, micros, d, payload]]`.
    static func entry(_ value: RedisValue, channel: String) -> ChannelMessage? {
        guard let pair = value.array, pair.count == 2, let idText = pair[0].string, let id = ChannelMessageID(idText),
            let fields = pair[1].array
        else { return nil }
        var kind = ChannelMessage.Kind.text
        var at: Int64 = 0
        var payload: ByteBuffer?
        var i = 0
        while i + 1 < fields.count {
            switch fields[i].string {
            case "k": kind = fields[i + 1].string == "b" ? .binary : .text
            case "t": at = fields[i + 1].int ?? 0
            case "d": if case .bulk(let b) = fields[i + 1] { payload = b } else { payload = ByteBuffer() }
            default: break
            }
            i += 2
        }
        guard let payload else { return nil }
        return ChannelMessage(channel: channel, id: id, kind: kind, payload: payload, publishedAt: at)
    }

    public func start(deliver: @escaping @Sendable (ChannelMessage) -> Void) {
        let prefix = "\(keyPrefix):\(config.redisPrefix)"
        let logger = self.logger
        client.subscribe(pattern: "\(Self.escapeGlob(prefix))*") { redisChannel, envelope in
            // Bytes, not characters: a channel starting with a combining mark would merge with the prefix's last one.
            guard redisChannel.utf8.starts(with: prefix.utf8) else { return }
            let channel = String(decoding: redisChannel.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
            guard let message = Self.decode(envelope, channel: channel) else {
                logger.warning("malformed channel message from redis; dropped", metadata: ["channel": "\(channel)"])
                return
            }
            deliver(message)
        }
    }

    /// The envelope the script publishes: `id \n kind \n micros \n token \n payload`.
    static func decode(_ envelope: ByteBuffer, channel: String) -> ChannelMessage? {
        var b = envelope
        func line() -> String? {
            guard let i = b.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            let text = b.readString(length: i - b.readerIndex)
            b.moveReaderIndex(forwardBy: 1)
            return text
        }
        guard let idText = line(), let id = ChannelMessageID(idText), let kindText = line(), let atText = line(), let at = Int64(atText),
            let token = line()
        else {
            return nil
        }
        return ChannelMessage(channel: channel, id: id, kind: kindText == "b" ? .binary : .text, payload: b, publishedAt: at, token: token)
    }

    /// A literal prefix inside a Redis glob pattern.
    static func escapeGlob(_ s: String) -> String {
        var out = ""
        for c in s {
            if "*?[]\\".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }
}

extension RedisScripts {
    /// KEYS[1] the channel's stream; ARGV: kind, published-at (µs), history length, payload, history TTL (ms),
    /// the pub/sub channel, the publish token. Appends (trimmed to the history length), refreshes the TTL,
    /// publishes, answers the id.
    static let channelPublish = RedisScript(
        """
        local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '*', 'k', ARGV[1], 't', ARGV[2], 'd', ARGV[4])
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
        redis.call('PUBLISH', ARGV[6], id .. '\\n' .. ARGV[1] .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[7] .. '\\n' .. ARGV[4])
        return id
        """
    )
}
