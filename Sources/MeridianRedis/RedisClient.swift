public import Logging
internal import NIOConcurrencyHelpers
public import NIOCore
internal import NIOSSL

/// A Redis client on the server's own event loops: each loop has its own connections to each node (so a request's
/// Redis call never leaves its thread), commands are pipelined on them; ``RESPEncoder`` writes commands, ``RESPParser`` parses replies.
/// Standalone or Redis Cluster (slot map from `CLUSTER SLOTS`, `MOVED` and `ASK` followed). A dedicated connection
/// carries pub/sub. Redis being down is normal operation here: commands fail at once with
/// ``RedisError/unavailable(_:)`` while the links reconnect with backoff, and ``status`` says degraded.
public final class RedisClient: Sendable {
    public let settings: RedisSettings
    let group: any EventLoopGroup
    private let loops: [ObjectIdentifier: RedisLoop]
    private let slots = NIOLockedValueBox(RedisSlotMap())
    private let refreshing = NIOLockedValueBox(false)
    private let events: RedisEvents
    private let subscriber: RedisSubscriber
    let logger: Logger
    /// Redirects one command may follow before it fails (a slot moving twice during one call is already rare).
    static let maxRedirects = 5

    public init(settings: RedisSettings, group: any EventLoopGroup, logger: Logger, observer: (any RedisObserver)? = nil) throws {
        precondition(settings.connectionsPerLoop >= 1, "at least one connection per event loop")
        let tls = try settings.tls.map { try NIOSSLContext(configuration: $0) }
        let events = RedisEvents(observer: observer, logger: logger)
        self.settings = settings
        self.group = group
        self.events = events
        self.logger = logger
        var loops: [ObjectIdentifier: RedisLoop] = [:]
        for eventLoop in group.makeIterator() {
            loops[ObjectIdentifier(eventLoop)] = RedisLoop(eventLoop: eventLoop, settings: settings, tls: tls, events: events)
        }
        self.loops = loops
        self.subscriber = RedisSubscriber(eventLoop: group.next(), nodes: settings.seeds, settings: settings, tls: tls, events: events)
    }

    /// Whether Redis is reachable now.
    public var status: RedisStatus { events.status }

    /// Whether Redis is unreachable now: ``status``'s `degraded` without a lock, for the request path.
    public var isDegraded: Bool { events.isDegraded }

    /// Connects every event loop (and, for a cluster, reads the slot map). A refused handshake (wrong password, an
    /// ACL user without the rights, a bad database number) is a configuration mistake and throws; an unreachable
    /// server is not: the client starts degraded and keeps trying.
    public func start() async throws {
        if settings.isCluster { await refreshSlots() }
        let nodes = settings.isCluster ? slots.withLockedValue { $0.nodes } : settings.seeds
        var attempts: [EventLoopFuture<RedisConnection>] = []
        for loop in loops.values {
            for node in nodes {
                attempts.append(loop.eventLoop.flatSubmit {
                    let links = loop.links(for: node)
                    for link in links.dropFirst() { link.start() }
                    return links[0].start()
                })
            }
        }
        for attempt in attempts {
            do {
                _ = try await attempt.get()
            } catch let error as RedisError {
                if case .handshake = error { throw error }
            } catch {}
        }
        let status = events.startupFinished()
        if status.degraded {
            events.report(status)
        } else {
            logger.info("redis connected", metadata: ["nodes": "\(nodes.map(\.description).joined(separator: ","))"])
        }
    }

    /// Sends a command. `key` routes it in a cluster (the slot of the key; any node without one). `timeout` bounds the
    /// wait (the configured command timeout when nil); a caller on a request's path passes its budget. Error replies
    /// are values (``RedisValue/error(_:)``); transport problems fail the future with ``RedisError``.
    public func send(
        _ arguments: [RedisArgument], key: String? = nil, timeout: Duration? = nil, on eventLoop: (any EventLoop)? = nil
    ) -> EventLoopFuture<RedisValue> {
        let eventLoop = eventLoop ?? group.any()
        let started = NIODeadline.now()
        let deadline = started + .nanoseconds((timeout ?? settings.commandTimeout).nanoseconds)
        guard eventLoop.inEventLoop, let loop = loops[ObjectIdentifier(eventLoop)] else {
            let target = loops[ObjectIdentifier(eventLoop)] != nil ? eventLoop : group.next()
            return target.flatSubmit { self.send(arguments, key: key, timeout: timeout, on: target) }
        }
        let node = route(key)
        let reply = execute(arguments, node: node, loop: loop, deadline: deadline, redirects: 0, asking: false)
        guard let observer = events.observer else { return reply }
        reply.whenComplete { result in
            observer.commandFinished(result, since: started)
        }
        return reply
    }

    /// Sends `commands` in one write to the node of `key` and calls `completion` once, on `eventLoop`, with their
    /// replies in order, or with the first transport failure (``RedisError``; error replies are values). On the
    /// request path, from one of the client's loops to a standalone server, no future is made per command (an L2
    /// cache lookup reads an entry and the URL's vary marker this way); elsewhere it is ``send(_:key:timeout:on:)``
    /// per command. In a cluster every command's keys must be in `key`'s slot (one hash tag).
    public func pipeline(
        _ commands: [[RedisArgument]], key: String?, timeout: Duration? = nil, on eventLoop: any EventLoop,
        _ completion: @escaping @Sendable (Result<[RedisValue], any Error>) -> Void
    ) {
        precondition(!commands.isEmpty, "a pipeline of no commands")
        if eventLoop.inEventLoop, !settings.isCluster, let loop = loops[ObjectIdentifier(eventLoop)],
            let connection = loop.link(for: route(key)).readyConnection
        {
            let started = NIODeadline.now()
            let deadline = started + .nanoseconds((timeout ?? settings.commandTimeout).nanoseconds)
            let replies = RedisPipelineReplies(count: commands.count, started: started, observer: events.observer, completion: completion)
            for (index, command) in commands.enumerated() {
                connection.handler.enqueue(command, reply: .pipeline(replies, index: index), deadline: deadline)
            }
            return
        }
        // Connecting, reconnecting, a cluster (redirects), or another thread: the general path.
        let replies = commands.map { send($0, key: key, timeout: timeout, on: eventLoop) }
        EventLoopFuture.whenAllComplete(replies, on: eventLoop).whenSuccess { results in
            var values: [RedisValue] = []
            values.reserveCapacity(results.count)
            for result in results {
                switch result {
                case .success(let value): values.append(value)
                case .failure(let error): return completion(.failure(error))
                }
            }
            completion(.success(values))
        }
    }

    /// Runs a script by `EVALSHA`; on `NOSCRIPT`, loads it on the node that answered and runs it again. Every key of
    /// a script must hash to one slot in a cluster (give them one hash tag).
    public func run(
        _ script: RedisScript, keys: [String], arguments: [RedisArgument], timeout: Duration? = nil, on eventLoop: (any EventLoop)? = nil
    ) -> EventLoopFuture<RedisValue> {
        let command: [RedisArgument] = ["EVALSHA", .string(script.sha1), RedisArgument(keys.count)] + keys.map { .string($0) } + arguments
        let key = keys.first
        // One deadline for the whole call, however many round trips the NOSCRIPT path takes.
        let deadline = ContinuousClock.now + (timeout ?? settings.commandTimeout)
        let remaining: @Sendable () -> Duration? = {
            let left = ContinuousClock.now.duration(to: deadline)
            return left > .zero ? left : nil
        }
        return send(command, key: key, timeout: timeout, on: eventLoop).flatMap { value in
            let loop = self.eventLoopFor(eventLoop)
            guard case .error(let message) = value, message.hasPrefix("NOSCRIPT") else { return loop.makeSucceededFuture(value) }
            guard let left = remaining() else { return loop.makeFailedFuture(RedisError.timeout) }
            return self.send(["SCRIPT", "LOAD", .string(script.source)], key: key, timeout: left, on: eventLoop).flatMap { loaded in
                if case .error = loaded { return loop.makeSucceededFuture(loaded) }
                guard let left = remaining() else { return loop.makeFailedFuture(RedisError.timeout) }
                return self.send(command, key: key, timeout: left, on: eventLoop)
            }
        }
    }

    public func publish(_ channel: String, _ message: RedisArgument, on eventLoop: (any EventLoop)? = nil) -> EventLoopFuture<RedisValue> {
        send(["PUBLISH", .string(channel), message], on: eventLoop)
    }

    /// Calls `handler` on the pub/sub connection's event loop for each message on `channel`, across reconnects.
    public func subscribe(_ channel: String, handler: @escaping @Sendable (_ channel: String, _ message: ByteBuffer) -> Void) {
        subscriber.subscribe(channel, handler: handler)
    }

    /// Calls `handler` for each message on any channel matching the glob `pattern` (PSUBSCRIBE), with the channel.
    public func subscribe(pattern: String, handler: @escaping @Sendable (_ channel: String, _ message: ByteBuffer) -> Void) {
        subscriber.subscribe(pattern: pattern, handler: handler)
    }

    /// The channels the server has confirmed on the current pub/sub connection.
    public func subscribedChannels() async -> Set<String> {
        (try? await subscriber.confirmedChannels.get()) ?? []
    }

    public func shutdown() async {
        events.close()
        subscriber.close()
        for loop in loops.values {
            try? await loop.eventLoop.submit { loop.close() }.get()
        }
    }

    // MARK: - Routing

    private func eventLoopFor(_ eventLoop: (any EventLoop)?) -> any EventLoop {
        eventLoop ?? group.any()
    }

    private func route(_ key: String?) -> RedisNode {
        switch settings.topology {
        case .standalone(let node):
            return node
        case .cluster(let seeds):
            guard let key else { return slots.withLockedValue { $0.nodes.first } ?? seeds[0] }
            let slot = RedisHashSlot.slot(of: key)
            if let node = slots.withLockedValue({ $0.node(for: slot) }) { return node }
            Task { await refreshSlots() }
            return seeds[0]
        }
    }

    private func execute(
        _ arguments: [RedisArgument], node: RedisNode, loop: RedisLoop, deadline: NIODeadline, redirects: Int, asking: Bool
    ) -> EventLoopFuture<RedisValue> {
        let link = loop.link(for: node)
        let reply = link.withConnection(deadline: deadline) { c in
            asking ? c.sendAsking(arguments, deadline: deadline) : c.send(arguments, deadline: deadline)
        }
        guard settings.isCluster else { return reply }
        return reply.flatMap { value in
            guard case .error(let message) = value, let redirect = RedisRedirect(message, answeredBy: node) else {
                return loop.eventLoop.makeSucceededFuture(value)
            }
            guard redirects < Self.maxRedirects else {
                return loop.eventLoop.makeFailedFuture(RedisError.cluster("more than \(Self.maxRedirects) redirects for slot \(redirect.slot)"))
            }
            if redirect.kind == .moved {
                // The slot has a new owner: remember it now, and reread the whole map (a failover moves many).
                self.slots.withLockedValue { $0.assign(redirect.slot, to: redirect.node) }
                Task { await self.refreshSlots() }
            }
            return self.execute(
                arguments, node: redirect.node, loop: loop, deadline: deadline, redirects: redirects + 1, asking: redirect.kind == .ask
            )
        }
    }

    /// Reads the slot map from the first node that answers `CLUSTER SLOTS` (one refresh at a time).
    func refreshSlots() async {
        let alreadyRunning = refreshing.withLockedValue { r in
            defer { r = true }
            return r
        }
        if alreadyRunning { return }
        defer { refreshing.withLockedValue { $0 = false } }
        let known = slots.withLockedValue { $0.nodes }
        var candidates = known
        for seed in settings.seeds where !candidates.contains(seed) { candidates.append(seed) }
        for node in candidates {
            guard let loop = loops.values.first else { return }
            let deadline = NIODeadline.now() + .nanoseconds(settings.connectTimeout.nanoseconds)
            let reply = try? await loop.eventLoop.flatSubmit {
                loop.link(for: node).withConnection(deadline: deadline) { $0.send(["CLUSTER", "SLOTS"], deadline: deadline) }
            }.get()
            if let reply, let map = RedisSlotMap(clusterSlots: reply, answeredBy: node), !map.isEmpty {
                slots.withLockedValue { $0 = map }
                // Links to nodes that left (a failed-over master, a removed node) would retry forever and keep
                // the client degraded: close them.
                let keep = Set(map.nodes + settings.seeds)
                for l in loops.values { l.eventLoop.execute { l.retain(only: keep) } }
                return
            }
        }
    }

    static func label(_ result: Result<RedisValue, any Error>) -> String {
        switch result {
        case .success(.error): return "error"
        case .success: return "ok"
        case .failure(RedisError.timeout): return "timeout"
        case .failure(RedisError.unavailable): return "unavailable"
        case .failure: return "closed"
        }
    }
}

/// One event loop's links: per node, ``RedisSettings/connectionsPerLoop`` links used in turn. Confined to its loop.
final class RedisLoop: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let settings: RedisSettings
    private let tls: NIOSSLContext?
    private let events: RedisEvents
    private var nodes: [RedisNode: [RedisLink]] = [:]
    private var last: (node: RedisNode, links: [RedisLink])?
    private var turn = 0

    init(eventLoop: any EventLoop, settings: RedisSettings, tls: NIOSSLContext?, events: RedisEvents) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.tls = tls
        self.events = events
    }

    func links(for node: RedisNode) -> [RedisLink] {
        if let links = nodes[node] { return links }
        let links = (0..<settings.connectionsPerLoop).map { _ in
            RedisLink(node: node, eventLoop: eventLoop, settings: settings, tls: tls, events: events)
        }
        nodes[node] = links
        return links
    }

    func link(for node: RedisNode) -> RedisLink {
        // Most commands go to the node of the last one (always, standalone): an equality check instead of
        // hashing the host name per command (6% of a pipelined GET's CPU in bench/redis.sh's profile).
        if let last, last.node == node {
            if last.links.count == 1 { return last.links[0] }
            turn &+= 1
            return last.links[turn % last.links.count]
        }
        let links = links(for: node)
        last = (node, links)
        if links.count == 1 { return links[0] }
        turn &+= 1
        return links[turn % links.count]
    }

    func close() {
        last = nil
        for links in nodes.values {
            for link in links { link.close() }
        }
    }

    /// Closes and forgets the links to nodes not in `keep`.
    func retain(only keep: Set<RedisNode>) {
        for (node, links) in nodes where !keep.contains(node) {
            for link in links { link.close() }
            nodes[node] = nil
        }
        if let last, !keep.contains(last.node) { self.last = nil }
    }
}
