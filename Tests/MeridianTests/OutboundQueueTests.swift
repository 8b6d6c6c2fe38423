import MeridianConfig
import NIOCore
import Testing

@testable import MeridianWebSocket

/// The per-client outgoing queue: what goes to the socket, what waits, and what a slow client costs.
@Suite struct OutboundQueueTests {
    func bytes(_ n: Int) -> ByteBuffer { ByteBuffer(repeating: 0x61, count: n) }

    @Test func writesGoOutUntilTheInFlightBudgetThenQueue() {
        var q = OutboundQueue(maxMessages: 10, maxBytes: 10_000, policy: .close, inFlightLimit: 100)
        #expect(q.enqueue(bytes(60)) == .send(bytes(60)))
        #expect(q.enqueue(bytes(60)) == .send(bytes(60)), "under the budget when it was asked")
        #expect(q.enqueue(bytes(10)) == .queued, "120 bytes in flight: past the budget")
        #expect(q.queuedCount == 1)
        #expect(q.completed(60).map(\.readableBytes) == [10], "room again: the queued one goes")
        #expect(q.completed(60).isEmpty)
        #expect(q.completed(10).isEmpty)
        #expect(q.enqueue(bytes(5)) == .send(bytes(5)), "empty again: straight out")
    }

    @Test func orderIsKeptWhileAnythingIsQueued() {
        var q = OutboundQueue(maxMessages: 10, maxBytes: 10_000, policy: .close, inFlightLimit: 10)
        #expect(q.enqueue(bytes(20)) == .send(bytes(20)))
        #expect(q.enqueue(bytes(1)) == .queued)
        // A small message must not overtake the queued one even though the budget has room after a completion.
        let next = q.completed(20)
        #expect(next.map(\.readableBytes) == [1])
    }

    @Test func aFullQueueOverflowsWithClose() {
        var q = OutboundQueue(maxMessages: 2, maxBytes: 10_000, policy: .close, inFlightLimit: 10)
        #expect(q.enqueue(bytes(10)) == .send(bytes(10)))
        #expect(q.enqueue(bytes(10)) == .queued)
        #expect(q.enqueue(bytes(10)) == .queued)
        #expect(q.enqueue(bytes(10)) == .overflow, "a third queued message is past max_messages")
        var byBytes = OutboundQueue(maxMessages: 100, maxBytes: 25, policy: .closeTryAgain, inFlightLimit: 10)
        _ = byBytes.enqueue(bytes(10))
        #expect(byBytes.enqueue(bytes(20)) == .queued)
        #expect(byBytes.enqueue(bytes(6)) == .overflow, "26 queued bytes are past max_bytes")
    }

    @Test func dropOldestKeepsTheNewestWithinTheBound() {
        var q = OutboundQueue(maxMessages: 2, maxBytes: 10_000, policy: .dropOldest, inFlightLimit: 10)
        _ = q.enqueue(ByteBuffer(string: "in-flight......"))
        #expect(q.enqueue(ByteBuffer(string: "a")) == .queued)
        #expect(q.enqueue(ByteBuffer(string: "b")) == .queued)
        #expect(q.enqueue(ByteBuffer(string: "c")) == .droppedOldest)
        #expect(q.queuedCount == 2)
        #expect(q.completed(15).map { String(buffer: $0) } == ["b", "c"])
        var big = OutboundQueue(maxMessages: 10, maxBytes: 4, policy: .dropOldest, inFlightLimit: 1)
        _ = big.enqueue(bytes(1))
        #expect(big.enqueue(bytes(5)) == .overflow, "a message larger than the whole bound cannot be kept by dropping others")
    }

    @Test func memoryIsBoundedAcrossLongRuns() {
        var q = OutboundQueue(maxMessages: 1000, maxBytes: 1 << 20, policy: .close, inFlightLimit: 10)
        _ = q.enqueue(bytes(10))
        for _ in 0..<10_000 {
            #expect(q.enqueue(bytes(10)) == .queued)
            #expect(q.completed(10).count == 1)
        }
        #expect(q.queuedCount == 0)
        #expect(q.queued.count < 200, "the consumed front is compacted away")
    }

    @Test func aStalledQueueThatKeepsDroppingStaysBounded() {
        var q = OutboundQueue(maxMessages: 10, maxBytes: 1 << 20, policy: .dropOldest, inFlightLimit: 1)
        _ = q.enqueue(bytes(1))  // in flight, and never completes
        for _ in 0..<10_000 { _ = q.enqueue(bytes(10)) }
        #expect(q.queuedCount == 10)
        #expect(q.queued.count < 200, "dropped messages are compacted away without a completed write")
    }
}

@Suite struct ChannelMessageIDTests {
    @Test func parsesRedisStreamIDs() {
        #expect(ChannelMessageID("1700000000000-3") == ChannelMessageID(milliseconds: 1_700_000_000_000, sequence: 3))
        #expect(ChannelMessageID("42") == ChannelMessageID(milliseconds: 42, sequence: 0))
        #expect(ChannelMessageID("") == nil)
        #expect(ChannelMessageID("abc") == nil)
        #expect(ChannelMessageID("1-x") == nil)
        #expect(ChannelMessageID("-1") == nil)
        #expect(ChannelMessageID("5-1")! < ChannelMessageID("5-2")!)
        #expect(ChannelMessageID("5-9")! < ChannelMessageID("6-0")!)
        #expect(ChannelMessageID(milliseconds: 7, sequence: 1).description == "7-1")
    }

    @Test func historyKeepsTheLastMessagesPerChannelAndForgetsQuietOnes() {
        var h = ChannelHistory(perChannel: 3, maxChannels: 2, ttl: .seconds(10))
        func m(_ channel: String, _ seq: UInt64) -> ChannelMessage {
            ChannelMessage(channel: channel, id: ChannelMessageID(milliseconds: 1, sequence: seq), kind: .text, payload: ByteBuffer(string: "\(seq)"), publishedAt: 0)
        }
        for seq in 1...5 { h.record(m("a", UInt64(seq)), nowMilliseconds: 1000) }
        let zero = ChannelMessageID(milliseconds: 0, sequence: 0)
        #expect(h.messages(in: "a", after: zero, nowMilliseconds: 1000).map(\.id.sequence) == [3, 4, 5], "three kept, oldest first")
        #expect(h.messages(in: "a", after: ChannelMessageID(milliseconds: 1, sequence: 3), nowMilliseconds: 1000).map(\.id.sequence) == [4, 5])
        #expect(h.messages(in: "a", after: zero, nowMilliseconds: 20_000).isEmpty, "past the TTL")
        h.record(m("b", 1), nowMilliseconds: 2000)
        h.record(m("c", 1), nowMilliseconds: 3000)
        #expect(h.messages(in: "a", after: zero, nowMilliseconds: 3000).isEmpty, "the quietest channel made room")
        #expect(h.messages(in: "c", after: zero, nowMilliseconds: 3000).count == 1)
    }

    @Test func historyIsBoundedInBytesAcrossChannels() {
        var h = ChannelHistory(perChannel: 10, maxChannels: 100, maxBytes: 1000, ttl: .seconds(10))
        for i in 0..<20 {
            let m = ChannelMessage(
                channel: "c\(i)", id: ChannelMessageID(milliseconds: 1, sequence: UInt64(i)), kind: .text,
                payload: ByteBuffer(repeating: 0x61, count: 300), publishedAt: 0
            )
            h.record(m, nowMilliseconds: UInt64(i))
            #expect(h.bytes <= 1000)
        }
        let zero = ChannelMessageID(milliseconds: 0, sequence: 0)
        #expect(h.messages(in: "c19", after: zero, nowMilliseconds: 19).count == 1, "the newest channel is kept")
        #expect(h.messages(in: "c0", after: zero, nowMilliseconds: 19).isEmpty, "the quietest went")
        var one = ChannelHistory(perChannel: 3, maxChannels: 10, maxBytes: 1000, ttl: .seconds(10))
        for i in 0..<10 {
            one.record(ChannelMessage(channel: "x", id: ChannelMessageID(milliseconds: 1, sequence: UInt64(i)), kind: .text, payload: ByteBuffer(repeating: 0x61, count: 100), publishedAt: 0), nowMilliseconds: 1)
        }
        #expect(one.bytes == 3 * (100 + 128), "a ring that wraps counts what it replaced (payload and 128 bytes each)")
        var big = ChannelHistory(perChannel: 100, maxChannels: 10, maxBytes: 1000, ttl: .seconds(10))
        for i in 0..<10 {
            big.record(ChannelMessage(channel: "y", id: ChannelMessageID(milliseconds: 1, sequence: UInt64(i)), kind: .text, payload: ByteBuffer(repeating: 0x61, count: 300), publishedAt: 0), nowMilliseconds: 1)
        }
        #expect(big.bytes == 2 * (300 + 128), "one channel alone keeps within the bound, newest first")
        #expect(big.messages(in: "y", after: ChannelMessageID(milliseconds: 0, sequence: 0), nowMilliseconds: 1).map(\.id.sequence) == [8, 9])
    }
}
