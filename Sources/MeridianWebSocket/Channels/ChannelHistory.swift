/// The last messages of each channel this instance saw, for `Last-Event-ID` without Redis (or while it is
/// unreachable). Bounded three times: `perChannel` messages a channel, `maxChannels` channels and
/// `maxBytes` of payload in all (the channel quiet for longest goes first): with Redis every instance hears
/// every channel, and a thousand busy channels of large messages must not grow the process. Pure; the hub
/// holds it under its lock.
struct ChannelHistory {
    let perChannel: Int
    let maxChannels: Int
    let maxBytes: Int
    let ttlMilliseconds: UInt64
    private var channels: [String: Ring] = [:]
    private(set) var bytes = 0

    struct Ring {
        var messages: [ChannelMessage] = []
        var start = 0
        var lastTouched: UInt64 = 0

        var bytes = 0

        /// Keeps `m`; the bytes it added (less what it pushed out).
        mutating func append(_ m: ChannelMessage, limit: Int) -> Int {
            let added = ChannelHistory.cost(m)
            if messages.count < limit {
                messages.append(m)
                bytes += added
                return added
            }
            let removed = ChannelHistory.cost(messages[start])
            messages[start] = m
            start = (start + 1) % limit
            bytes += added - removed
            return added - removed
        }

        var ordered: [ChannelMessage] { Array(messages[start...] + messages[..<start]) }

        /// Forgets the oldest message; the bytes freed.
        mutating func dropOldest() -> Int {
            var all = ordered
            guard !all.isEmpty else { return 0 }
            let freed = ChannelHistory.cost(all.removeFirst())
            messages = all
            start = 0
            bytes -= freed
            return freed
        }
    }

    /// What one kept message costs: its payload and about what the message, its id and the array slot take.
    static func cost(_ m: ChannelMessage) -> Int { m.payload.readableBytes + 128 }

    init(perChannel: Int, maxChannels: Int = 10_000, maxBytes: Int = 64 << 20, ttl: Duration) {
        self.perChannel = perChannel
        self.maxChannels = maxChannels
        self.maxBytes = maxBytes
        self.ttlMilliseconds = UInt64(ttl.components.seconds * 1000)
    }

    mutating func record(_ message: ChannelMessage, nowMilliseconds: UInt64) {
        guard perChannel > 0, Self.cost(message) <= maxBytes else { return }
        if channels[message.channel] == nil, channels.count >= maxChannels { evictQuietest() }
        bytes += channels[message.channel, default: Ring()].append(message, limit: perChannel)
        channels[message.channel]?.lastTouched = nowMilliseconds
        while bytes > maxBytes, channels.count > 1 { evictQuietest(sparing: message.channel) }
        // One channel alone past the bound (many large messages): its oldest go.
        while bytes > maxBytes, let freed = channels[message.channel]?.dropOldest(), freed > 0 { bytes -= freed }
    }

    /// The messages after `id`, oldest first; every kept one when `id` is older than them all.
    func messages(in channel: String, after id: ChannelMessageID, nowMilliseconds: UInt64) -> [ChannelMessage] {
        guard let ring = channels[channel], nowMilliseconds &- ring.lastTouched <= ttlMilliseconds else { return [] }
        return ring.ordered.filter { $0.id > id }
    }

    private mutating func evictQuietest(sparing kept: String? = nil) {
        guard let oldest = channels.filter({ $0.key != kept }).min(by: { $0.value.lastTouched < $1.value.lastTouched })?.key else { return }
        bytes -= channels[oldest]?.bytes ?? 0
        channels[oldest] = nil
    }
}
