public import Logging
internal import MeridianConfig
internal import MeridianCore
internal import NIOCore

/// One WebSocket connection on its upgraded pipe (an HTTP/1.1 connection or an HTTP/2 stream): reads
/// frames, enforces RFC 6455's rules (a broken one closes with its code), answers pings, publishes what the
/// client sends, and writes the channel's messages through a bounded queue. Keep-alive: after
/// `ping_interval` of silence a ping goes out, and no answer within `ping_timeout` ends the connection.
/// Confined to the pipe's event loop (the hub hands messages over on it); `@unchecked Sendable` only so
/// the hub's callbacks may hold it.
final class WebSocketSession: UpgradedStream.Delegate, @unchecked Sendable {
    private enum Phase {
        case open
        /// We sent a close frame (the client's answer, or the deadline, ends it).
        case closeSent
        case closed
    }

    private let stream: UpgradedStream
    private let action: Configuration.WebSocketAction
    private let channel: String
    private let hub: ChannelHub
    private let stats: ChannelStats.Route
    private let logger: Logger
    private var parser: WebSocketFrameParser
    private var assembler: WebSocketMessageAssembler
    private let compressor: PerMessageDeflateCompressor?
    private let outbox: ClientOutbox
    private var subscription: ChannelHub.Subscription?
    private var phase = Phase.open
    private var lastHeard = NIODeadline.now()
    private var pingSentAt: NIODeadline?
    private var keepAlive: Scheduled<Void>?
    private var closeDeadline: Scheduled<Void>?
    /// In the open-connections gauge (until the connection ends, subscribed or not).
    private var counted = false
    /// Messages from the client waiting for the one being published: one in flight at a time keeps this client's
    /// messages in order through Redis, and a client that sends faster than they go out stops being read.
    private var publishQueue: [(ChannelMessage.Kind, ByteBuffer)] = []
    private var publishing = false
    private var readingPaused = false
    static let maxQueuedPublishes = 64

    static func start(
        on stream: UpgradedStream, action: Configuration.WebSocketAction, channel: String, hub: ChannelHub, stats: ChannelStats.Route,
        deflate: PerMessageDeflateAgreement?, logger: Logger
    ) {
        let session = WebSocketSession(stream: stream, action: action, channel: channel, hub: hub, stats: stats, deflate: deflate, logger: logger)
        stats.open.wrappingIncrement(ordering: .relaxed)
        stats.opened.wrappingIncrement(ordering: .relaxed)
        session.counted = true
        session.subscription = hub.subscribe(
            channel, on: stream.eventLoop,
            deliver: { [weak session] message in session?.deliver(message) },
            drain: { [weak session] in session?.goAway() }
        )
        stream.delegate = session
        if session.subscription == nil { session.goAway() }
        session.scheduleKeepAlive(after: action.pingInterval)
    }

    private init(
        stream: UpgradedStream, action: Configuration.WebSocketAction, channel: String, hub: ChannelHub, stats: ChannelStats.Route,
        deflate: PerMessageDeflateAgreement?, logger: Logger
    ) {
        self.stream = stream
        self.action = action
        self.channel = channel
        self.hub = hub
        self.stats = stats
        var logger = logger
        logger[metadataKey: "channel"] = "\(channel)"
        self.logger = logger
        self.parser = WebSocketFrameParser(maxFrameSize: action.maxFrameBytes, allowRSV1: deflate != nil)
        self.assembler = WebSocketMessageAssembler(
            maxMessageSize: action.maxMessageBytes, decompressor: deflate.map { PerMessageDeflateDecompressor(agreement: $0) }
        )
        self.compressor = deflate.map { PerMessageDeflateCompressor(agreement: $0, level: action.deflateLevel) }
        self.outbox = ClientOutbox(
            queue: OutboundQueue(maxMessages: action.queueMessages, maxBytes: action.queueBytes, policy: action.slowConsumer),
            stats: stats, write: stream.write
        )
        outbox.owner = self
    }

    // MARK: - From the client

    func upgradedStream(_ stream: UpgradedStream, received bytes: ByteBuffer) {
        guard phase != .closed else { return }
        lastHeard = .now()
        if pingSentAt != nil {
            // Answered: the next ping is due `ping_interval` from now, not when the timeout would have been.
            pingSentAt = nil
            keepAlive?.cancel()
            scheduleKeepAlive(after: action.pingInterval)
        }
        parser.append(bytes)
        do {
            while phase != .closed, let frame = try parser.next() {
                if let event = try assembler.receive(frame) { handle(event) }
            }
        } catch let failure {
            fail(failure)
        }
    }

    private func handle(_ event: WebSocketEvent) {
        switch event {
        case .message(let opcode, let payload):
            guard phase == .open else { return }  // after our close frame, data is ignored (§5.5.1)
            stats.messagesIn.wrappingIncrement(ordering: .relaxed)
            guard action.publish else {
                return fail(WebSocketFailure(code: 1008, reason: "this channel does not take messages from clients"))
            }
            publish(opcode == .text ? .text : .binary, payload)
        case .ping(let payload):
            guard phase == .open else { return }
            sendControl(WebSocketFrameEncoder.encode(.pong, payload: payload, allocator: stream.allocator))
        case .pong:
            break  // any byte from the client counts as alive (lastHeard), a pong included
        case .close(let code, _):
            switch phase {
            case .open:
                // Echo the code (§5.5.1); 1005 (none given) is answered with an empty close.
                phase = .closeSent
                let frame = code.map { WebSocketFrameEncoder.close(code: $0, reason: "", allocator: stream.allocator) }
                    ?? WebSocketFrameEncoder.encode(.close, payload: ByteBuffer(), allocator: stream.allocator)
                armCloseDeadline()
                stream.write(frame).whenComplete { [self] _ in finish() }
            case .closeSent:
                finish()  // the client answered ours: the server closes the TCP connection first (§7.1.1)
            case .closed:
                break
            }
        }
    }

    private func publish(_ kind: ChannelMessage.Kind, _ payload: ByteBuffer) {
        guard !publishing else {
            publishQueue.append((kind, payload))
            if publishQueue.count >= Self.maxQueuedPublishes, !readingPaused {
                readingPaused = true
                stream.setReading(false)
            }
            return
        }
        publishing = true
        hub.publish(channel, kind: kind, payload: payload, on: stream.eventLoop).hop(to: stream.eventLoop).whenComplete { [self] _ in
            publishing = false
            if !publishQueue.isEmpty {
                let (nextKind, nextPayload) = publishQueue.removeFirst()
                publish(nextKind, nextPayload)
            }
            if readingPaused, publishQueue.count < Self.maxQueuedPublishes / 2 {
                readingPaused = false
                stream.setReading(true)
            }
        }
    }

    /// The client broke a rule: close with its code, counted.
    private func fail(_ failure: WebSocketFailure) {
        guard phase != .closed else { return }
        if phase == .open { stats.closedProtocol.wrappingIncrement(ordering: .relaxed) }
        logger.debug("websocket closed for a protocol error", metadata: ["code": "\(failure.code)", "reason": "\(failure.reason)"])
        sendClose(code: failure.code, reason: failure.reason, thenWait: false)
    }

    func upgradedStreamClosed(_ stream: UpgradedStream) {
        phase = .closed
        cleanUp()
    }

    func upgradedStreamShouldClose(_ stream: UpgradedStream) { goAway() }

    /// Shutdown: 1001 "going away", so the client reconnects elsewhere (§7.4.1).
    func goAway() {
        guard phase == .open else { return }
        stats.closedDraining.wrappingIncrement(ordering: .relaxed)
        sendClose(code: 1001, reason: "server shutting down", thenWait: true)
    }

    /// Sends a close frame; waits (a short while) for the client's, or closes at once after a protocol error.
    private func sendClose(code: UInt16, reason: String, thenWait: Bool) {
        guard phase == .open else {
            if phase == .closeSent, !thenWait { finish() }
            return
        }
        phase = .closeSent
        let written = stream.write(WebSocketFrameEncoder.close(code: code, reason: reason, allocator: stream.allocator))
        // A client that stops reading cannot hold the connection by never taking the close frame.
        armCloseDeadline()
        if thenWait {
            written.whenFailure { [self] _ in finish() }
        } else {
            written.whenComplete { [self] _ in finish() }
        }
    }

    private func armCloseDeadline() {
        closeDeadline?.cancel()
        closeDeadline = stream.eventLoop.scheduleTask(in: .seconds(2)) { [self] in finish() }
    }

    private func finish() {
        guard phase != .closed else { return }
        phase = .closed
        stream.close()
        cleanUp()
    }

    private func cleanUp() {
        keepAlive?.cancel()
        keepAlive = nil
        closeDeadline?.cancel()
        closeDeadline = nil
        if let subscription {
            hub.unsubscribe(subscription)
            self.subscription = nil
        }
        if counted {
            counted = false
            stats.open.wrappingDecrement(ordering: .relaxed)
        }
    }

    // MARK: - To the client

    /// A channel message, through the queue (a slow client overflows it; it never grows without bound).
    private func deliver(_ message: ChannelMessage) {
        guard phase == .open else { return }
        let opcode: WebSocketOpcode = message.kind == .text ? .text : .binary
        let frame: ByteBuffer
        if let compressor {
            frame = WebSocketFrameEncoder.encode(
                opcode, payload: compressor.compress(message.payload, allocator: stream.allocator), rsv1: true, allocator: stream.allocator
            )
        } else {
            frame = WebSocketFrameEncoder.encode(opcode, payload: message.payload, allocator: stream.allocator)
        }
        guard !outbox.enqueue(frame) else { return }
        logger.info("websocket client too slow; closing", metadata: ["queued": "\(outbox.queuedCount)"])
        // The close frame cannot jump a full socket buffer: close at once.
        let code: UInt16 = action.slowConsumer == .closeTryAgain ? 1013 : 1008
        _ = stream.write(WebSocketFrameEncoder.close(code: code, reason: "client too slow", allocator: stream.allocator))
        finish()
    }

    /// Pongs bypass the queue: control frames may go between whole data frames (§5.5).
    private func sendControl(_ frame: ByteBuffer) {
        _ = stream.write(frame)
    }

    // MARK: - Keep-alive

    private func scheduleKeepAlive(after delay: Duration) {
        keepAlive = stream.eventLoop.scheduleTask(in: TimeAmount(delay)) { [self] in checkAlive() }
    }

    private func checkAlive() {
        guard phase != .closed else { return }
        let now = NIODeadline.now()
        if let sent = pingSentAt {
            if now - sent >= TimeAmount(action.pingTimeout) {
                stats.closedProtocol.wrappingIncrement(ordering: .relaxed)
                logger.debug("websocket client did not answer a ping; closing")
                return finish()
            }
            return scheduleKeepAlive(after: .nanoseconds((TimeAmount(action.pingTimeout) - (now - sent)).nanoseconds))
        }
        let silent = now - lastHeard
        let interval = TimeAmount(action.pingInterval)
        guard silent >= interval else {
            return scheduleKeepAlive(after: .nanoseconds((interval - silent).nanoseconds))
        }
        pingSentAt = now
        sendControl(WebSocketFrameEncoder.encode(.ping, payload: ByteBuffer(), allocator: stream.allocator))
        scheduleKeepAlive(after: action.pingTimeout)
    }
}

extension WebSocketSession: ClientOutboxOwner {
    /// After our close frame nothing more may go (RFC 6455 §5.5.1).
    var outboxIsOpen: Bool { phase == .open }
    func outboxWillWrite() { stats.messagesOut.wrappingIncrement(ordering: .relaxed) }
    func outboxWrote() {}
    func outboxWriteFailed(_ error: any Error) {}  // the pipe reports the close itself
}
