internal import Logging
internal import MeridianConfig
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix

extension HTTP1ConnectionHandler {
    // MARK: - Timeouts

    enum TimeoutKind { case idle, headerRead, bodyRead, send }

    /// The deadline that applies in the connection's present phase.
    func currentDeadline() -> (NIODeadline, TimeoutKind)? {
        if let since = unwritableSince {
            return (since + TimeAmount(timeouts.send), .send)
        }
        if let c = current {
            // While the reader is behind, the wait is ours, not the client's.
            if !c.bodyComplete && !c.body.wantsNoMore { return (lastActivity + TimeAmount(timeouts.bodyRead), .bodyRead) }
            return nil  // waiting on a responder: its own timeouts apply
        }
        if let started = headStartedAt {
            return (started + TimeAmount(timeouts.headerRead), .headerRead)
        }
        return (lastActivity + TimeAmount(timeouts.idle), .idle)
    }

    /// Keeps one timer armed no later than the current deadline. Deadlines that move later (the
    /// steady state of a busy keep-alive connection) cost nothing: the timer re-checks when it fires.
    func updateTimer(context: ChannelHandlerContext) {
        guard !closed, let (deadline, _) = currentDeadline() else { return }
        if let scheduled = timerDeadline, scheduled <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.timerFired(context: context)
        }
    }

    func timerFired(context: ChannelHandlerContext) {
        timer = nil
        timerDeadline = nil
        guard !closed, let (deadline, kind) = currentDeadline() else { return }
        guard deadline <= .now() else {
            updateTimer(context: context)
            return
        }
        switch kind {
        case .idle, .send:
            services.timedOut(kind == .idle ? "idle" : "send")
            closed = true
            context.close(promise: nil)
        case .headerRead:
            services.timedOut("header_read")
            parseFailed = true
            writeError(HTTPParseError(.requestTimeout, "request header not received in time"), context: context)
        case .bodyRead:
            services.timedOut("body_read")
            if let c = current {
                bodyFailed(c, .timedOut, context: context)
            } else {
                closed = true
                context.close(promise: nil)
            }
        }
    }
}
