internal import NIOCore

/// Carrying out ``HTTP1ConnectionTimeouts``: one timer, and what each expiry does.
extension HTTP1ConnectionHandler {
    /// Keeps one timer armed no later than the current deadline. Deadlines that move later (the
    /// steady state of a busy keep-alive connection) cost nothing: the timer re-checks when it fires.
    func updateTimer(context: ChannelHandlerContext) {
        guard !closed, let (deadline, _) = timeouts.deadline(limits) else { return }
        if let scheduled = timerDeadline, scheduled <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        // A callback handler, not a closure: the event loop keeps it inside its scheduled-task
        // entry, so an armed timer allocates nothing (`scheduleTask` costs a promise and four
        // closure contexts, ~300 bytes held by every idle connection).
        timer = try? context.eventLoop.assumeIsolated().scheduleCallback(in: TimeAmount(deadline - now), handler: TimerCallback(handler: self))
    }

    struct TimerCallback: NIOScheduledCallbackHandler {
        let handler: HTTP1ConnectionHandler

        func handleScheduledCallback(eventLoop: some EventLoop) {
            guard let context = handler.context else { return }
            handler.timerFired(context: context)
        }
    }

    /// The limits of the runtime in force (read, not copied into every connection).
    var limits: HTTP1ConnectionTimeouts<MonotonicClock>.Limits { .init(runtime.timeouts) }

    func timerFired(context: ChannelHandlerContext) {
        timer = nil
        timerDeadline = nil
        guard !closed else { return }
        guard let kind = timeouts.expired(at: MonotonicClock.now, limits) else {  // (a fresh reading: the batch's may predate the deadline)
            updateTimer(context: context)
            return
        }
        services.timedOut(kind.rawValue)
        switch kind {
        case .idle, .send:
            closed = true
            context.close(promise: nil)
        case .headerRead:
            parseFailed = true
            writeError(HTTPParseError(.requestTimeout, "request header not received in time"), context: context)
        case .bodyRead:
            if let c = current {
                bodyFailed(c, .timedOut, context: context)
            } else {
                closed = true
                context.close(promise: nil)
            }
        }
    }
}

extension HTTP1ConnectionTimeouts.Limits {
    init(_ timeouts: ServerTimeouts) {
        self.init(headerRead: timeouts.headerRead, idle: timeouts.idle, bodyRead: timeouts.bodyRead, send: timeouts.send)
    }
}
