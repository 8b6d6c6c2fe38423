internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOSSL

/// The dedicated pub/sub connection: one per instance, on one event loop. It subscribes to every channel a handler
/// was registered for, and again after each reconnect (a message published while it was down is lost: what travels
/// on these channels is either repeated or also kept in Redis). In a Redis Cluster classic pub/sub reaches every
/// node, so any node will do.
final class RedisSubscriber: @unchecked Sendable {  // mutable state is confined to `eventLoop`
    typealias Handler = @Sendable (_ channel: String, _ message: ByteBuffer) -> Void

    let eventLoop: any EventLoop
    private let nodes: [RedisNode]
    private let settings: RedisSettings
    private let tls: NIOSSLContext?
    private let events: RedisEvents
    private var handlers: [String: [Handler]] = [:]
    /// Glob patterns (PSUBSCRIBE), with their handlers, which get the concrete channel of each message.
    private var patternHandlers: [String: [Handler]] = [:]
    private var connection: RedisConnection?
    private var connecting = false
    private var closed = false
    private var backoff: ReconnectBackoff
    private var random = SystemRandomNumberGenerator()
    private var nextNode = 0
    private var everConnected = false
    /// Subscriptions the server confirmed on the current connection (for tests and the status page).
    private(set) var confirmed: Set<String> = []
    private var pinger: RepeatedTask?
    private var connectedAt: NIODeadline?
    private var keepBackoff = false
    /// Redis's refusal of SUBSCRIBE, while it stands.
    private var refused: String?

    init(eventLoop: any EventLoop, nodes: [RedisNode], settings: RedisSettings, tls: NIOSSLContext?, events: RedisEvents) {
        self.eventLoop = eventLoop
        self.nodes = nodes
        self.settings = settings
        self.tls = tls
        self.events = events
        self.backoff = ReconnectBackoff(base: settings.backoffBase, max: settings.backoffMax)
    }

    func subscribe(_ channel: String, handler: @escaping Handler) {
        eventLoop.execute { [self] in
            let isNew = handlers[channel] == nil
            handlers[channel, default: []].append(handler)
            if isNew, let connection { connection.subscribe([channel]) }
            if connection == nil, !connecting, !closed { connect() }
        }
    }

    /// Subscribes to every channel matching `pattern` (a Redis glob), across reconnects.
    func subscribe(pattern: String, handler: @escaping Handler) {
        eventLoop.execute { [self] in
            let isNew = patternHandlers[pattern] == nil
            patternHandlers[pattern, default: []].append(handler)
            if isNew, let connection { connection.subscribe(patterns: [pattern]) }
            if connection == nil, !connecting, !closed { connect() }
        }
    }

    var confirmedChannels: EventLoopFuture<Set<String>> {
        eventLoop.submit { self.confirmed }
    }

    private func connect() {
        connecting = true
        let node = nodes[nextNode % nodes.count]
        nextNode += 1
        RedisConnection.connect(
            to: node, settings: settings, tls: tls, on: eventLoop,
            push: { [weak self] value in self?.received(value) },
            onClose: { [weak self] in self?.eventLoop.execute { self?.lost() } }
        ).whenComplete { [self] result in
            connecting = false
            switch result {
            case .success(let c):
                guard !closed else { return c.close() }
                connection = c
                confirmed = []
                if !keepBackoff { backoff.reset() }
                keepBackoff = false
                if everConnected { events.reconnected(node) }
                everConnected = true
                events.set(ObjectIdentifier(self), problem: nil)
                connectedAt = .now()
                refused = nil
                let channels = handlers.keys.sorted()
                if !channels.isEmpty { c.subscribe(channels) }
                let patterns = patternHandlers.keys.sorted()
                if !patterns.isEmpty { c.subscribe(patterns: patterns) }
                startPings(on: c)
            case .failure(let error):
                retry(reason: "pub/sub \(node): \(RedisLink.describe(error))")
            }
        }
    }

    private func received(_ value: RedisValue) {
        if case .error(let message) = value {
            subscribeRefused(message)
            return
        }
        guard case .array(let items) = value, let kind = items.first?.string else { return }
        switch kind {
        case "message" where items.count == 3:
            guard let channel = items[1].string, case .bulk(let payload) = items[2] else { return }
            events.observer?.redisPubSubMessage(channel: channel)
            for handler in handlers[channel] ?? [] { handler(channel, payload) }
        case "pmessage" where items.count == 4:
            guard let pattern = items[1].string, let channel = items[2].string, case .bulk(let payload) = items[3] else { return }
            events.observer?.redisPubSubMessage(channel: pattern)
            for handler in patternHandlers[pattern] ?? [] { handler(channel, payload) }
        case "subscribe", "psubscribe":
            if let channel = items[1].string { confirmed.insert(channel) }
            if refused == nil { events.set(ObjectIdentifier(self), problem: nil) }
        default:
            break
        }
    }

    /// Redis refused SUBSCRIBE (an ACL user without rights to the channels): shared state cannot hear
    /// transitions, so the instance stays degraded (local) and asks again every 10 s; no reconnect storm.
    private func subscribeRefused(_ message: String) {
        guard refused == nil else { return }
        refused = message
        events.logger.error(
            "redis refused SUBSCRIBE; give the ACL user the channel rights (e.g. &meridian:*) or allchannels",
            metadata: ["error": "\(message)"]
        )
        events.set(ObjectIdentifier(self), problem: "pub/sub refused: \(message)")
        eventLoop.scheduleTask(in: .seconds(10)) { [self] in
            guard let connection, connection.isActive, refused != nil else { return }
            refused = nil
            connection.subscribe(handlers.keys.sorted().filter { !confirmed.contains($0) })
            connection.subscribe(patterns: patternHandlers.keys.sorted().filter { !confirmed.contains($0) })
        }
    }

    /// A PING every second: a pub/sub connection otherwise sends nothing, and a dead peer that sent no reset
    /// (a vanished host, a load balancer dropping an idle flow) would go unnoticed for hours. An unanswered PING
    /// closes the connection after `deadAfter`, and the subscriber reconnects and resubscribes.
    private func startPings(on c: RedisConnection) {
        pinger?.cancel()
        pinger = eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak c] task in
            guard let c, c.isActive else { return task.cancel() }
            _ = c.send(["PING"], deadline: .now() + .seconds(1))
        }
    }

    private func lost() {
        guard let connection, !connection.isActive else { return }
        self.connection = nil
        confirmed = []
        pinger?.cancel()
        pinger = nil
        // A connection that did not last resets nothing: a server that drops us at once must not make us
        // reconnect at full speed.
        if let connectedAt, NIODeadline.now() - connectedAt < .seconds(5) { keepBackoff = true }
        retry(reason: "pub/sub \(connection.node): connection lost")
    }

    private func retry(reason: String) {
        guard !closed else { return }
        events.set(ObjectIdentifier(self), problem: reason)
        let wait = backoff.next(using: &random)
        eventLoop.scheduleTask(in: .nanoseconds(wait.nanoseconds)) { [self] in
            guard !closed, connection == nil, !connecting else { return }
            connect()
        }
    }

    func close() {
        eventLoop.execute { [self] in
            closed = true
            pinger?.cancel()
            events.set(ObjectIdentifier(self), problem: nil)
            connection?.close()
            connection = nil
        }
    }
}
