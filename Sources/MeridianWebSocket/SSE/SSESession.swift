internal import Foundation
internal import MeridianConfig
internal import MeridianCore
internal import NIOCore

/// One event stream: subscribes, replays the history after `Last-Event-ID`, then writes each message as an
/// event through a bounded queue, with a comment line after `keepalive` of silence. Ends (the body's future
/// completes) at shutdown or when a slow client overflows a `close` queue; fails when the client goes.
/// Confined to the response's event loop; `@unchecked Sendable` only so the hub's callbacks may hold it.
final class SSESession: @unchecked Sendable {
    private let action: Configuration.SSEAction
    private let channel: String
    private let hub: ChannelHub
    private let stats: ChannelStats.Route
    private let eventLoop: any EventLoop
    private let done: EventLoopPromise<Void>
    private let outbox: ClientOutbox
    private var subscription: ChannelHub.Subscription?
    private var ended = false
    /// Until the history has been written, live messages wait here (then those already replayed are skipped).
    private var held: [ChannelMessage]? = []
    /// The replay (and what arrived behind it), going out as the queue has room.
    private var backlog: [ChannelMessage] = []
    private var backlogHead = 0
    /// The backlog's next message, encoded, while the queue has no room for it.
    private var nextEvent: ByteBuffer?
    private var lastWrite = NIODeadline.now()
    private var keepAlive: RepeatedTask?

    init(
        action: Configuration.SSEAction, channel: String, hub: ChannelHub, stats: ChannelStats.Route, eventLoop: any EventLoop,
        write: @escaping BodyStream.Write
    ) {
        self.action = action
        self.channel = channel
        self.hub = hub
        self.stats = stats
        self.eventLoop = eventLoop
        self.done = eventLoop.makePromise()
        self.outbox = ClientOutbox(
            queue: OutboundQueue(maxMessages: action.queueMessages, maxBytes: action.queueBytes, policy: action.slowConsumer),
            stats: stats, write: write
        )
        outbox.owner = self
    }

    func run(resumingAfter resumeFrom: ChannelMessageID?, clientGone: ClientGoneSignal) -> EventLoopFuture<Void> {
        stats.open.wrappingIncrement(ordering: .relaxed)
        stats.opened.wrappingIncrement(ordering: .relaxed)
        // Subscribe before reading the history, so nothing published in between is missed.
        subscription = hub.subscribe(
            channel, on: eventLoop, deliver: { [self] message in received(message) }, drain: { [self] in drain() }
        )
        clientGone.whenGone { [self] reason in end(failure: SSEClientGone(reason: reason)) }
        guard subscription != nil else {
            end(failure: nil)
            return done.futureResult
        }
        // The timer first: a replay can end the stream at once (a `close` queue it overflows), and end() must find
        // the timer to cancel it.
        let period = TimeAmount(action.keepAlive)
        keepAlive = eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { [self] _ in
            // Only on a quiet, drained stream: a comment must not push out (drop_oldest) a real event.
            if !ended, NIODeadline.now() - lastWrite >= period, outbox.isIdle {
                enqueue(ByteBuffer(string: ": keep-alive\n\n"))
            }
        }
        enqueue(ByteBuffer(string: "retry: \(action.retry.components.seconds * 1000 + action.retry.components.attoseconds / 1_000_000_000_000_000)\n\n"))
        if let resumeFrom {
            hub.messages(in: channel, after: resumeFrom, on: eventLoop).hop(to: eventLoop).whenComplete { [self] result in
                let replay = (try? result.get()) ?? []
                release(replay)
            }
        } else {
            release([])
        }
        return done.futureResult
    }

    /// Writes the replayed history, then the live messages that arrived meanwhile, less those the replay already
    /// had (by id). From then on every live message goes out as it comes: ids from different sources (Redis's, a
    /// local one while Redis was down) need not be in order, and none may be dropped for it.
    /// The replay goes out as the client takes it (``pump()``), not into the queue at once, so a history longer than
    /// the queue is not lost to it; live messages that arrive meanwhile wait behind it.
    private func release(_ replay: [ChannelMessage]) {
        let live = held ?? []
        held = nil
        let replayed = Set(replay.map(\.id))
        backlog = replay + live.filter { !replayed.contains($0.id) }
        pump()
    }

    private func received(_ message: ChannelMessage) {
        guard !ended else { return }
        if held != nil {
            held!.append(message)
        } else if backlogHead < backlog.count {
            backlog.append(message)
            // Behind a replay the client is not taking: the queue's rule applies to the backlog too.
            if backlog.count - backlogHead > action.queueMessages + hub.config.history {
                if action.slowConsumer == .dropOldest {
                    backlogHead += 1
                    stats.dropped.wrappingIncrement(ordering: .relaxed)
                } else {
                    stats.closedSlow.wrappingIncrement(ordering: .relaxed)
                    end(failure: nil)
                }
            }
        } else {
            send(message)
        }
    }

    /// Moves backlog into the queue while it has room.
    private func pump() {
        while !ended, backlogHead < backlog.count {
            let event = nextEvent ?? Self.event(backlog[backlogHead])
            guard outbox.hasRoom(for: event) else {
                nextEvent = event  // a completed write calls again; the event is not encoded twice
                break
            }
            nextEvent = nil
            backlogHead += 1
            stats.messagesOut.wrappingIncrement(ordering: .relaxed)
            enqueue(event)
        }
        if backlogHead == backlog.count, !backlog.isEmpty {
            backlog = []
            backlogHead = 0
        }
    }

    private func send(_ message: ChannelMessage) {
        guard !ended else { return }
        stats.messagesOut.wrappingIncrement(ordering: .relaxed)
        enqueue(Self.event(message))
    }

    private func enqueue(_ bytes: ByteBuffer) {
        if !outbox.enqueue(bytes) { end(failure: nil) }
    }

    /// Shutdown: the stream ends cleanly, and the browser reconnects (to another instance) after `retry`.
    private func drain() {
        guard !ended else { return }
        stats.closedDraining.wrappingIncrement(ordering: .relaxed)
        end(failure: nil)
    }

    private func end(failure: (any Error)?) {
        guard !ended else { return }
        ended = true
        keepAlive?.cancel()
        keepAlive = nil
        if let subscription {
            hub.unsubscribe(subscription)
            self.subscription = nil
        }
        stats.open.wrappingDecrement(ordering: .relaxed)
        if let failure { done.fail(failure) } else { done.succeed() }
    }

    /// `id:`, then one `data:` line per line of the message (a binary message goes as base64 with
    /// `event: binary`), then the blank line that dispatches it.
    static func event(_ message: ChannelMessage) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(message.payload.readableBytes + 48)
        out.writeString("id: \(message.id)\n")
        switch message.kind {
        case .binary:
            out.writeString("event: binary\ndata: ")
            out.writeString(Data(message.payload.readableBytesView).base64EncodedString())
            out.writeString("\n")
        case .text:
            let text = String(buffer: message.payload)
            // CR, LF and CRLF all end a line in the event stream format, so each becomes its own data line.
            var line = Substring()
            var lines: [Substring] = []
            var rest = Substring(text)
            while let i = rest.firstIndex(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
                line = rest[..<i]
                lines.append(line)
                rest = rest[rest.index(after: i)...]
            }
            lines.append(rest)
            for l in lines {
                out.writeString("data: ")
                out.writeSubstring(l)
                out.writeString("\n")
            }
        }
        out.writeString("\n")
        return out
    }
}

/// The SSE client went away; the stream's future fails with it.
struct SSEClientGone: Error, CustomStringConvertible {
    var reason: String
    var description: String { "the event stream's client went away: \(reason)" }
}

extension SSESession: ClientOutboxOwner {
    var outboxIsOpen: Bool { !ended }
    func outboxWillWrite() { lastWrite = .now() }
    func outboxWrote() { pump() }
    func outboxWriteFailed(_ error: any Error) { end(failure: error) }
}
