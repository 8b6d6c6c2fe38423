public import MeridianConfig
public import NIOCore

/// One client's outgoing messages (RFC 6455 frames or SSE events): up to `inFlightBytes` handed to the
/// socket at once, the rest queued up to a bound; past the bound the slow-consumer policy decides. Pure: the
/// session says what it sent and what completed, and carries out what comes back. A slow reader therefore
/// costs at most the bound, and never delays the publisher or the other subscribers.
struct OutboundQueue {
    enum Admission: Equatable {
        /// Write this now.
        case send(ByteBuffer)
        /// Kept until the socket takes what is in flight.
        case queued
        /// Kept, and the oldest queued message was dropped to make room.
        case droppedOldest
        /// The client is too slow: close it (1008, or 1013 for `close_try_again`).
        case overflow
    }

    let maxMessages: Int
    let maxBytes: Int
    let policy: Configuration.SlowConsumer
    let inFlightLimit: Int
    private(set) var queued: [ByteBuffer] = []
    private var head = 0
    private(set) var queuedBytes = 0
    private(set) var inFlight = 0

    init(maxMessages: Int, maxBytes: Int, policy: Configuration.SlowConsumer, inFlightLimit: Int = 64 * 1024) {
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
        self.policy = policy
        self.inFlightLimit = inFlightLimit
    }

    var queuedCount: Int { queued.count - head }

    mutating func enqueue(_ bytes: ByteBuffer) -> Admission {
        if queuedCount == 0, inFlight < inFlightLimit {
            inFlight += bytes.readableBytes
            return .send(bytes)
        }
        if queuedCount + 1 <= maxMessages, queuedBytes + bytes.readableBytes <= maxBytes {
            append(bytes)
            return .queued
        }
        guard policy == .dropOldest, bytes.readableBytes <= maxBytes else { return .overflow }
        while queuedCount > 0, queuedCount + 1 > maxMessages || queuedBytes + bytes.readableBytes > maxBytes {
            queuedBytes -= queued[head].readableBytes
            queued[head] = ByteBuffer()  // let the dropped bytes go now
            head += 1
        }
        compact()
        append(bytes)
        return .droppedOldest
    }

    /// A write of `count` bytes completed: what to write next.
    mutating func completed(_ count: Int) -> [ByteBuffer] {
        inFlight -= count
        var out: [ByteBuffer] = []
        while queuedCount > 0, inFlight < inFlightLimit {
            let next = queued[head]
            queued[head] = ByteBuffer()
            head += 1
            queuedBytes -= next.readableBytes
            inFlight += next.readableBytes
            out.append(next)
        }
        compact()
        return out
    }

    /// Forgets the consumed front once it is most of the array (a stalled socket that keeps dropping must not keep
    /// it growing).
    private mutating func compact() {
        if head > 64, head * 2 > queued.count {
            queued.removeFirst(head)
            head = 0
        }
    }

    private mutating func append(_ bytes: ByteBuffer) {
        queued.append(bytes)
        queuedBytes += bytes.readableBytes
    }
}
