public import NIOCore

/// One message published to a channel, as every subscriber on every instance receives it.
public struct ChannelMessage: Sendable {
    public enum Kind: UInt8, Sendable {
        case text = 0x74  // "t"
        case binary = 0x62  // "b"
    }

    public var channel: String
    /// Orders the channel's messages: Redis's stream id with Redis (one order for the cluster), a local one
    /// without. SSE sends it as the event id.
    public var id: ChannelMessageID
    public var kind: Kind
    public var payload: ByteBuffer
    /// When it was published (microseconds since the epoch, the publishing instance's clock): the fan-out
    /// latency is measured from it.
    public var publishedAt: Int64
    /// Unique per publish (`<instance nonce>-<sequence>`): when a Redis call timed out after Redis had run it, the
    /// message was delivered here as a fallback and then comes back from Redis too; the token spots the copy.
    public var token: String?

    public init(channel: String, id: ChannelMessageID, kind: Kind, payload: ByteBuffer, publishedAt: Int64, token: String? = nil) {
        self.channel = channel
        self.id = id
        self.kind = kind
        self.payload = payload
        self.publishedAt = publishedAt
        self.token = token
    }
}

/// A Redis stream id, `<milliseconds>-<sequence>`: the form both Redis and the local history use, so a
/// `Last-Event-ID` means the same thing whichever instance a client reconnects to.
public struct ChannelMessageID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: UInt64
    public var sequence: UInt64

    public init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// `1700000000000-3`; a bare number means sequence 0, as Redis reads it. nil for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let ms = UInt64(first) else { return nil }
        if parts.count == 2 {
            guard let seq = UInt64(parts[1]) else { return nil }
            self.init(milliseconds: ms, sequence: seq)
        } else {
            self.init(milliseconds: ms, sequence: 0)
        }
    }

    public var description: String { "\(milliseconds)-\(sequence)" }

    public static func < (a: Self, b: Self) -> Bool {
        (a.milliseconds, a.sequence) < (b.milliseconds, b.sequence)
    }
}
