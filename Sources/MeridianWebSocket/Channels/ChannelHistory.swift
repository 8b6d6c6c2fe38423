/// The last messages of each channel this instance saw, for `Last-Event-ID` without Redis (or while it is
/// unreachable). Bounded twice: `perChannel` messages a channel, and `maxChannels` channels (the channel
/// quiet for longest goes first). Pure; the hub holds it under its lock.
struct ChannelHistory {
    let perChannel: Int
    let maxChannels: Int
    let ttlMilliseconds: UInt64
    private var channels: [String: Ring] = [:]

    struct Ring {
        var messages: [ChannelMessage] = []
        var start = 0
        var lastTouched: UInt64 = 0

        mutating func append(_ m: ChannelMessage, limit: Int) {
            if messages.count < limit {
                messages.append(m)
            } else {
                messages[start] = m
                start = (start + 1) % limit
            }
        }

        var ordered: [ChannelMessage] { Array(messages[start...] + messages[..<start]) }
    }

    init(perChannel: Int, maxChannels: Int = 10_000, ttl: Duration) {
        self.perChannel = perChannel
        self.maxChannels = maxChannels
        self.ttlMilliseconds = UInt64(ttl.components.seconds * 1000)
    }

    mutating func record(_ message: ChannelMessage, nowMilliseconds: UInt64) {
        guard perChannel > 0 else { return }
        if channels[message.channel] == nil, channels.count >= maxChannels { evictQuietest() }
        channels[message.channel, default: Ring()].append(message, limit: perChannel)
        channels[message.channel]?.lastTouched = nowMilliseconds
    }

    /// The messages after `id`, oldest first; every kept one when `id` is older than them all.
    func messages(in channel: String, after id: ChannelMessageID, nowMilliseconds: UInt64) -> [ChannelMessage] {
        guard let ring = channels[channel], nowMilliseconds &- ring.lastTouched <= ttlMilliseconds else { return [] }
        return ring.ordered.filter { $0.id > id }
    }

    private mutating func evictQuietest() {
        guard let oldest = channels.min(by: { $0.value.lastTouched < $1.value.lastTouched })?.key else { return }
        channels[oldest] = nil
    }
}
