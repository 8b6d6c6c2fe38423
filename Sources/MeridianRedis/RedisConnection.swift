internal import NIOCore
internal import NIOPosix
internal import NIOSSL

/// One connection to one Redis node, confined to its event loop (every call is made on it, which is what makes the
/// unchecked `Sendable` safe: futures of the loop carry it).
///
/// Commands are pipelined: each is encoded into one outgoing buffer that is flushed once per event-loop tick, so a
/// burst of commands costs one write, and replies are matched to commands in order (Redis answers in order on a
/// connection). A command whose deadline passes fails with ``RedisError/timeout``; its slot stays in the queue so the
/// late reply is matched and dropped. A connection that answers nothing for ``RedisSettings/deadAfter`` while
/// commands wait is closed (the server or the path is gone; the link reconnects).
final class RedisConnection: @unchecked Sendable {
    let channel: any Channel
    let handler: RedisConnectionHandler
    let node: RedisNode

    init(channel: any Channel, handler: RedisConnectionHandler, node: RedisNode) {
        self.channel = channel
        self.handler = handler
        self.node = node
    }

    var isActive: Bool { !handler.closed }

    func send(_ arguments: [RedisArgument], deadline: NIODeadline) -> EventLoopFuture<RedisValue> {
        let promise = channel.eventLoop.makePromise(of: RedisValue.self)
        handler.enqueue(arguments, reply: .promise(promise), deadline: deadline)
        return promise.futureResult
    }

    /// `ASKING` and then the command, back to back on this connection (a cluster ASK redirect).
    func sendAsking(_ arguments: [RedisArgument], deadline: NIODeadline) -> EventLoopFuture<RedisValue> {
        handler.enqueue(["ASKING"], reply: .none, deadline: deadline)
        return send(arguments, deadline: deadline)
    }

    /// SUBSCRIBE: its confirmations (one per channel) or its refusal (one error, e.g. NOPERM for an ACL user
    /// without channel rights) arrive as pushes, in order with the other commands' replies.
    func subscribe(_ channels: [String]) {
        handler.enqueueSubscribe(channels)
    }

    /// PSUBSCRIBE: as ``subscribe(_:)``, for glob patterns (`meridian:ch:*`); messages arrive as `pmessage`.
    func subscribe(patterns: [String]) {
        handler.enqueueSubscribe(patterns, command: "PSUBSCRIBE")
    }

    func close() { handler.closeNow() }

    /// Connects to `node`, sets TLS up when configured, and runs the handshake (AUTH, SELECT, CLIENT SETNAME).
    static func connect(
        to node: RedisNode, settings: RedisSettings, tls: NIOSSLContext?, on eventLoop: any EventLoop,
        push: (@Sendable (RedisValue) -> Void)? = nil, onClose: @escaping @Sendable () -> Void
    ) -> EventLoopFuture<RedisConnection> {
        let handler = RedisConnectionHandler(eventLoop: eventLoop, deadAfter: settings.deadAfter, push: push, onClose: onClose)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.nanoseconds(settings.connectTimeout.nanoseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let serverName = settings.tlsServerName ?? (node.host.first?.isNumber == true || node.host.contains(":") ? nil : node.host)
                        let sslHandler = try NIOSSLClientHandler(context: tls, serverHostname: serverName)
                        try channel.pipeline.syncOperations.addHandler(sslHandler)
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        return bootstrap.connect(host: node.host, port: node.port).flatMap { channel in
            let connection = RedisConnection(channel: channel, handler: handler, node: node)
            return connection.handshake(settings).map { connection }.flatMapErrorThrowing { error in
                connection.close()
                throw error
            }
        }
    }

    private func handshake(_ settings: RedisSettings) -> EventLoopFuture<Void> {
        let deadline = NIODeadline.now() + .nanoseconds(settings.connectTimeout.nanoseconds)
        var steps: [[RedisArgument]] = []
        if let password = settings.password {
            if let user = settings.username { steps.append(["AUTH", .string(user), .string(password)]) } else { steps.append(["AUTH", .string(password)]) }
        }
        if settings.database != 0 { steps.append(["SELECT", RedisArgument(settings.database)]) }
        if let name = settings.clientName { steps.append(["CLIENT", "SETNAME", .string(name)]) }
        // At least one round trip: the connection is ready only once TLS (if any) is up and the server answers.
        if steps.isEmpty { steps.append(["PING"]) }
        let commands = steps
        let replies = commands.map { send($0, deadline: deadline) }
        return EventLoopFuture.whenAllSucceed(replies, on: channel.eventLoop).flatMapThrowing { values in
            for (step, value) in zip(commands, values) {
                if case .error(let message) = value {
                    // Only a refusal of the credentials or the database is a configuration mistake that stops a
                    // start; anything else (maxclients, LOADING) is Redis being unavailable for now.
                    let fatal = ["WRONGPASS", "NOAUTH", "NOPERM", "ERR invalid password", "ERR AUTH", "ERR DB index", "ERR invalid DB index"]
                    guard fatal.contains(where: { message.hasPrefix($0) }) else { throw RedisError.unavailable(message) }
                    let command: String
                    if case .string(let c) = step[0] { command = c } else { command = "?" }
                    let hint: String
                    switch command {
                    case "AUTH": hint = "; check redis.username and redis.password (or the credentials in redis.url / MERIDIAN_REDIS_URL)"
                    case "SELECT": hint = "; check redis.database"
                    default: hint = ""
                    }
                    throw RedisError.handshake("\(command): \(message)\(hint)")
                }
            }
        }
    }
}

/// The channel end of a ``RedisConnection``: encodes commands into one buffer flushed per tick, feeds the reply
/// parser (``RESPParser``) and completes the commands' promises in order.
final class RedisConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Where a command's reply goes.
    enum Reply {
        case none
        case promise(EventLoopPromise<RedisValue>)
        /// Element `index` of a pipeline's replies (``RedisPipelineReplies``): no future per command.
        case pipeline(RedisPipelineReplies, index: Int)

        func complete(_ result: Result<RedisValue, any Error>) {
            switch self {
            case .none: break
            case .promise(let p): p.completeWith(result)
            case .pipeline(let replies, let index): replies.receive(result, at: index)
            }
        }

        var isWaiting: Bool {
            if case .none = self { return false }
            return true
        }
    }

    private struct Pending {
        var reply: Reply
        var deadline: NIODeadline
        /// A SUBSCRIBE: the confirmations still to come (its replies go to the push handler).
        var subscriptions = 0
    }

    let eventLoop: any EventLoop
    private var parser = RESPParser()
    private var pending = CircularBuffer<Pending>(initialCapacity: 16)
    private var context: ChannelHandlerContext?
    private var outgoing: ByteBuffer?
    private var flushScheduled = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var lastRead = NIODeadline.now()
    private let deadAfter: TimeAmount
    private let push: (@Sendable (RedisValue) -> Void)?
    private let onClose: @Sendable () -> Void
    private(set) var closed = false

    init(eventLoop: any EventLoop, deadAfter: Duration, push: (@Sendable (RedisValue) -> Void)?, onClose: @escaping @Sendable () -> Void) {
        self.eventLoop = eventLoop
        self.deadAfter = .nanoseconds(deadAfter.nanoseconds)
        self.push = push
        self.onClose = onClose
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func enqueue(_ arguments: [RedisArgument], reply: Reply, deadline: NIODeadline) {
        guard !closed, context != nil else {
            reply.complete(.failure(RedisError.connectionClosed))
            return
        }
        write(arguments)
        pending.append(Pending(reply: reply, deadline: deadline))
        if pending.count == 1 { lastRead = .now() }
        armTimer(for: deadline)
    }

    func enqueueSubscribe(_ channels: [String], command: String = "SUBSCRIBE") {
        guard !closed, context != nil, !channels.isEmpty else { return }
        write([.string(command)] + channels.map { .string($0) })
        pending.append(Pending(reply: .none, deadline: .distantFuture, subscriptions: channels.count))
    }

    private func write(_ arguments: [RedisArgument]) {
        if outgoing == nil, let context { outgoing = context.channel.allocator.buffer(capacity: 256) }
        RESPEncoder.encode(arguments, into: &outgoing!)
        guard !flushScheduled else { return }
        flushScheduled = true
        // Everything the tick adds goes out in one write: the pipelining.
        eventLoop.execute { self.flush() }
    }

    private func flush() {
        flushScheduled = false
        guard let context, let buffer = outgoing, !closed else { return }
        outgoing = nil
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        do {
            parser.feed(unwrapInboundIn(data))
            while let value = try parser.next() { deliver(value) }
        } catch {
            failAll(error)
            context.close(promise: nil)
        }
    }

    private func deliver(_ value: RedisValue) {
        if let push, let head = pending.first, head.subscriptions > 0 {
            // A SUBSCRIBE's answer: one confirmation per channel, or one refusal for the whole command.
            if case .error = value {
                pending.removeFirst()
                push(value)
                return
            }
            if case .array(let items) = value, items.first?.string == "subscribe" || items.first?.string == "psubscribe" {
                if head.subscriptions == 1 { pending.removeFirst() } else { pending[pending.startIndex].subscriptions -= 1 }
                push(value)
                return
            }
        }
        if let push, Self.isPush(value) {
            push(value)
            return
        }
        guard let next = pending.popFirst() else {
            // A reply nobody asked for: the stream is out of step, and every later match would be wrong.
            failAll(RedisError.protocolError("unexpected reply \(value)"))
            context?.close(promise: nil)
            return
        }
        next.reply.complete(.success(value))
    }

    /// A pub/sub push: `message`, `pmessage`, `smessage` or a (un)subscribe confirmation.
    static func isPush(_ value: RedisValue) -> Bool {
        guard case .array(let items) = value, items.count >= 3, let kind = items[0].string else { return false }
        switch kind {
        case "message", "pmessage", "smessage", "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe":
            return true
        default:
            return false
        }
    }

    // MARK: - Deadlines

    private func armTimer(for requested: NIODeadline) {
        // At most one scan per millisecond: during a stall with thousands of commands waiting, one timer per
        // distinct deadline would make the scans quadratic.
        let deadline = max(requested, .now() + .milliseconds(1))
        if let current = timerDeadline, current <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = eventLoop.scheduleTask(deadline: deadline) { [self] in
            timer = nil
            timerDeadline = nil
            expire()
        }
    }

    private func expire() {
        let now = NIODeadline.now()
        var next: NIODeadline?
        // The promises are failed only after the scan: their callbacks run at once and may send commands (which
        // grow `pending`, moving its indices) or close the connection (which empties it).
        var expired: [Reply] = []
        for i in pending.indices {
            guard pending[i].reply.isWaiting else { continue }
            if pending[i].deadline <= now {
                expired.append(pending[i].reply)
                pending[i].reply = .none
            } else {
                next = min(next ?? pending[i].deadline, pending[i].deadline)
            }
        }
        if !pending.isEmpty, now - lastRead >= deadAfter {
            // Nothing heard for too long with commands waiting: the server or the path is gone.
            for reply in expired { reply.complete(.failure(RedisError.timeout)) }
            failAll(RedisError.timeout)
            context?.close(promise: nil)
            return
        }
        if let next {
            armTimer(for: next)
        } else if !pending.isEmpty {
            armTimer(for: lastRead + deadAfter)
        }
        for reply in expired { reply.complete(.failure(RedisError.timeout)) }
    }

    /// Fails every waiting command. The queue is taken first: a callback may send a command, which waits for the
    /// next connection's failure (or this one's close) rather than being failed in this loop.
    private func failAll(_ error: any Error) {
        let waiting = pending
        pending.removeAll()
        for entry in waiting { entry.reply.complete(.failure(error)) }
    }

    // MARK: - Closing

    func closeNow() {
        guard !closed, let context else { return }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        timer?.cancel()
        timer = nil
        failAll(RedisError.connectionClosed)
        onClose()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A TLS failure (an unknown CA, a wrong name) says what it is: that goes into the degraded reason.
        failAll(error is RedisError ? error : RedisError.unavailable("\(error)"))
        context.close(promise: nil)
    }
}
