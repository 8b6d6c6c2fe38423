internal import NIOConcurrencyHelpers
public import NIOCore
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
    private var connection: RedisConnection?
    private var connecting = false
    private var closed = false
    private var backoff: ReconnectBackoff
    private var random = SystemRandomNumberGenerator()
    private var nextNode = 0
    private var everConnected = false
    /// Subscriptions the server confirmed on the current connection (for tests and the status page).
    private(set) var confirmed: Set<String> = []

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
            if isNew, let connection { connection.sendWithoutReply(["SUBSCRIBE", .string(channel)]) }
            if connection == nil, !connecting, !closed { connect() }
        }
    }

    var isConnected: EventLoopFuture<Bool> {
        eventLoop.submit { self.connection?.isActive == true }
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
                backoff.reset()
                if everConnected { events.reconnected(node) }
                everConnected = true
                events.set(ObjectIdentifier(self), problem: nil)
                let channels = handlers.keys.sorted()
                if !channels.isEmpty { c.sendWithoutReply(["SUBSCRIBE"] + channels.map { .string($0) }) }
            case .failure(let error):
                retry(reason: "pub/sub \(node): \(RedisLink.describe(error))")
            }
        }
    }

    private func received(_ value: RedisValue) {
        guard case .array(let items) = value, let kind = items.first?.string else { return }
        switch kind {
        case "message" where items.count == 3:
            guard let channel = items[1].string, case .bulk(let payload) = items[2] else { return }
            events.observer?.redisPubSubMessage(channel: channel)
            for handler in handlers[channel] ?? [] { handler(channel, payload) }
        case "subscribe":
            if let channel = items[1].string { confirmed.insert(channel) }
        default:
            break
        }
    }

    private func lost() {
        guard let connection, !connection.isActive else { return }
        self.connection = nil
        confirmed = []
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
            events.set(ObjectIdentifier(self), problem: nil)
            connection?.close()
            connection = nil
        }
    }
}
