internal import Atomics
internal import Foundation
public import Logging
public import MeridianConfig
internal import NIOConcurrencyHelpers
public import NIOCore

/// The channels of one instance: who listens to what, and the fan-out. A message published here goes to
/// the relay (Redis), which brings it back to every instance, this one included, so all subscribers in the
/// cluster see a channel's messages in one order; with no relay, or while Redis is unreachable, it is
/// delivered here at once with a local id. Subscribers live on event loops: delivery is one task per loop
/// per message, carrying the loop's subscribers, so a publish never waits for a slow client.
public final class ChannelHub: Sendable {
    /// A registered listener; give it back to ``unsubscribe(_:)``.
    public struct Subscription: Hashable, Sendable {
        let id: UInt64
        let channel: String
    }

    struct Subscriber: Sendable {
        let eventLoop: any EventLoop
        let deliver: @Sendable (ChannelMessage) -> Void
        let drain: @Sendable () -> Void
    }

    struct State {
        var subscribers: [String: [UInt64: Subscriber]] = [:]
        var next: UInt64 = 0
        var history: ChannelHistory
        var lastID = ChannelMessageID(milliseconds: 0, sequence: 0)
        var draining = false
        /// Tokens of messages delivered here because their Redis call failed, oldest first (bounded): a copy
        /// coming back from Redis with one of them is dropped.
        var fallbackTokens: Set<String> = []
        var fallbackOrder: [String] = []
    }

    /// This process's part of every publish token.
    private let nonce = String(UInt64.random(in: .min ... .max), radix: 36)
    private let nextToken = ManagedAtomic<UInt64>(0)

    public let config: Configuration.Channels
    public let stats: ChannelStats
    let logger: Logger
    private let state: NIOLockedValueBox<State>
    private let relayBox = NIOLockedValueBox<(any ChannelRelay)?>(nil)

    public init(config: Configuration.Channels, stats: ChannelStats = ChannelStats(), logger: Logger) {
        self.config = config
        self.stats = stats
        self.logger = logger
        self.state = NIOLockedValueBox(State(history: ChannelHistory(perChannel: config.history, ttl: config.historyTTL)))
    }

    /// Shares the channels with the other instances through `relay` from now on.
    public func attach(relay: any ChannelRelay) {
        relayBox.withLockedValue { $0 = relay }
        relay.start { [weak self] message in self?.deliverLocally(message) }
    }

    var relay: (any ChannelRelay)? { relayBox.withLockedValue { $0 } }

    /// Registers a listener: `deliver` runs on `eventLoop` for each message, `drain` when the instance shuts
    /// down. nil while draining (the instance takes no new listeners then).
    public func subscribe(
        _ channel: String, on eventLoop: any EventLoop, deliver: @escaping @Sendable (ChannelMessage) -> Void,
        drain: @escaping @Sendable () -> Void
    ) -> Subscription? {
        state.withLockedValue { s in
            guard !s.draining else { return nil }
            s.next += 1
            s.subscribers[channel, default: [:]][s.next] = Subscriber(eventLoop: eventLoop, deliver: deliver, drain: drain)
            return Subscription(id: s.next, channel: channel)
        }
    }

    public func unsubscribe(_ subscription: Subscription) {
        state.withLockedValue { s in
            s.subscribers[subscription.channel]?[subscription.id] = nil
            if s.subscribers[subscription.channel]?.isEmpty == true { s.subscribers[subscription.channel] = nil }
        }
    }

    /// Listeners of `channel` on this instance.
    public func subscriberCount(_ channel: String) -> Int {
        state.withLockedValue { $0.subscribers[channel]?.count ?? 0 }
    }

    /// What a publish did: the message's id, and whether it went through Redis to the whole cluster.
    public struct Published: Sendable {
        public var id: ChannelMessageID
        public var cluster: Bool
    }

    /// Publishes to every subscriber of the channel in the cluster (this instance's alone when Redis is absent or
    /// fails the call).
    public func publish(_ channel: String, kind: ChannelMessage.Kind, payload: ByteBuffer, on eventLoop: any EventLoop) -> EventLoopFuture<Published> {
        let now = Self.nowMicroseconds()
        guard let relay, relay.isAvailable else {
            return eventLoop.makeSucceededFuture(Published(id: publishLocally(channel, kind: kind, payload: payload, at: now, token: nil), cluster: false))
        }
        let token = "\(nonce)-\(nextToken.wrappingIncrementThenLoad(ordering: .relaxed))"
        return relay.publish(channel: channel, kind: kind, payload: payload, publishedAt: now, token: token, on: eventLoop).map {
            self.stats.publishedCluster.wrappingIncrement(ordering: .relaxed)
            return Published(id: $0, cluster: true)
        }.flatMapError { error in
            // Redis failed us: the subscribers here still get it (the others may not: degraded mode). A timeout may
            // have come after Redis ran the call; then its copy comes back too, and the token drops it.
            self.logger.debug("channel publish through redis failed; delivering locally", metadata: ["error": "\(error)"])
            let id = self.publishLocally(channel, kind: kind, payload: payload, at: now, token: token)
            return eventLoop.makeSucceededFuture(Published(id: id, cluster: false))
        }
    }

    private func publishLocally(
        _ channel: String, kind: ChannelMessage.Kind, payload: ByteBuffer, at now: Int64, token: String?
    ) -> ChannelMessageID {
        stats.publishedLocalOnly.wrappingIncrement(ordering: .relaxed)
        var id = ChannelMessageID(milliseconds: 0, sequence: 0)
        deliverLocally(ChannelMessage(channel: channel, id: id, kind: kind, payload: payload, publishedAt: now)) { s in
            if let token {
                s.fallbackTokens.insert(token)
                s.fallbackOrder.append(token)
                if s.fallbackOrder.count > 10_000 {
                    for old in s.fallbackOrder.prefix(1_000) { s.fallbackTokens.remove(old) }
                    s.fallbackOrder.removeFirst(1_000)
                }
            }
            let ms = UInt64(now / 1000)
            id = ms > s.lastID.milliseconds
                ? ChannelMessageID(milliseconds: ms, sequence: 0)
                : ChannelMessageID(milliseconds: s.lastID.milliseconds, sequence: s.lastID.sequence + 1)
            return id
        }
        return id
    }

    /// Hands `message` to this instance's subscribers (one task per event loop) and keeps it for resumption.
    /// `assignID`, for a message published here, gives it its id in the same critical section that records and
    /// dispatches it: two publishers on different loops then reach every subscriber in id order.
    func deliverLocally(_ message: ChannelMessage, assignID: ((inout State) -> ChannelMessageID)? = nil) {
        let nowMicros = Self.nowMicroseconds()
        var message = message
        let delivered = state.withLockedValue { s -> Bool in
            if let token = message.token, !s.fallbackTokens.isEmpty, s.fallbackTokens.remove(token) != nil {
                return false  // delivered here already, when its Redis call failed
            }
            if let assignID { message.id = assignID(&s) }
            s.history.record(message, nowMilliseconds: UInt64(nowMicros / 1000))
            if message.id > s.lastID { s.lastID = message.id }
            guard let subscribers = s.subscribers[message.channel], !subscribers.isEmpty else { return true }
            // Enqueued under the lock (an enqueue, not the delivery), so every loop gets the channel's messages in
            // the order they were recorded.
            var byLoop: [ObjectIdentifier: (any EventLoop, [Subscriber])] = [:]
            for t in subscribers.values { byLoop[ObjectIdentifier(t.eventLoop), default: (t.eventLoop, [])].1.append(t) }
            let final = message
            for (_, (loop, targets)) in byLoop {
                loop.execute {
                    for t in targets { t.deliver(final) }
                }
            }
            return true
        }
        if delivered { stats.recordLatency(microseconds: nowMicros - message.publishedAt) }
    }

    /// The channel's messages after `id`, oldest first: from Redis when it is reachable (every instance's
    /// messages), else from what this instance kept.
    public func messages(in channel: String, after id: ChannelMessageID, on eventLoop: any EventLoop) -> EventLoopFuture<[ChannelMessage]> {
        let local = { () -> [ChannelMessage] in
            self.state.withLockedValue { $0.history.messages(in: channel, after: id, nowMilliseconds: UInt64(Self.nowMicroseconds() / 1000)) }
        }
        guard config.history > 0 else { return eventLoop.makeSucceededFuture([]) }
        guard let relay, relay.isAvailable else { return eventLoop.makeSucceededFuture(local()) }
        return relay.history(channel: channel, after: id, on: eventLoop).flatMapError { _ in eventLoop.makeSucceededFuture(local()) }
    }

    /// Shutdown: no new listeners, and every listener is told to go (WebSockets send 1001, SSE streams end).
    public func drain() {
        let all = state.withLockedValue { s -> [Subscriber] in
            s.draining = true
            return s.subscribers.values.flatMap { $0.values }
        }
        for s in all { s.eventLoop.execute { s.drain() } }
    }

    static func nowMicroseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
