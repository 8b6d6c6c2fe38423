internal import Logging
internal import NIOCore
internal import NIOHTTP1

/// Bad requests, drain and close on an HTTP/1.1 connection.
extension HTTP1ConnectionHandler {
    /// Answers a request that could not be parsed, then closes: its framing cannot be trusted.
    func writeError(_ error: HTTPParseError, context: ChannelHandlerContext) {
        keepAlive.forceClose()
        refreshRuntime()  // a head that failed to parse may be the first after a reload
        runtime.logger.debug("bad request", metadata: ["status": "\(error.status.code)", "reason": "\(error.reason)"])
        var head = allocator.buffer(capacity: 256)
        let response = Response.text(error.status, "\(error.status.code) \(error.status.reasonPhrase): \(error.reason)\n")
        HTTP1ResponseHead.write(
            into: &head, status: response.status, headers: response.headers, contentLength: response.body.length,
            connection: .close, serverHeader: runtime.serverHeader, requestID: nil, date: loopClock?.date ?? DateCache.current.value
        )
        if case .buffer(var b) = response.body { head.writeBuffer(&b) }
        emit(head, context: context)
        services.rejectedRequest(status: error.status)
        if !runtime.observers.isEmpty {
            // No request was parsed, but the access log and metrics should still show the answer
            // (as nginx logs its 400s): method and target are "-".
            var started = NIODeadline.now()
            if case .head(let since) = timeouts.phase { started = started - TimeAmount(now - since) }
            let request = Request(
                head: HTTPRequestHead(version: .http1_1, method: .RAW(value: "-"), uri: "-"), id: services.requestID(from: HTTPHeaders()),
                connection: connectionInfo, startedAt: started
            )
            let record = RequestRecord(
                request: request, route: "", status: error.status, bodyBytesSent: response.body.length, bodyBytesReceived: 0,
                duration: .now() - started, error: error.reason
            )
            for observer in runtime.observers { observer.requestFinished(record) }
        }
        closeAfterFlush(context: context)
    }

    func closeAfterFlush(context: ChannelHandlerContext) {
        guard !closed else { return }
        closed = true
        needsFlush = false
        timer?.cancel()
        timer = nil
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        // A client that never reads must not keep a closing connection forever: the pending bytes
        // get the send timeout, then the connection is closed regardless.
        let hardClose = context.eventLoop.scheduleTask(in: TimeAmount(runtime.timeouts.send)) {
            loopBound.value.close(promise: nil)
        }
        // Bytes the client may still be sending (a body refused with 413, a request after a parse
        // error): closing on unread bytes makes the kernel send RST, which can destroy the answer
        // before the client reads it. So, as nginx's lingering close does, shut our side and
        // read-and-drop until the client closes or `lingerTime` passes.
        let linger = !inputClosed && (parseFailed || (buffer?.readableBytes ?? 0) > 0 || current.map { !$0.bodyComplete || $0.bodyBroken } == true)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(allocator.buffer(capacity: 0)))).whenComplete { result in
            hardClose.cancel()
            let (handler, context) = bound.value
            guard linger, case .success = result else {
                context.close(promise: nil)
                return
            }
            handler.lingering = true
            handler.buffer = nil
            context.close(mode: .output).whenFailure { _ in bound.value.1.close(promise: nil) }
            context.eventLoop.scheduleTask(in: Self.lingerTime) { bound.value.1.close(promise: nil) }
            context.read()
        }
    }

    /// The longest a closing connection drains what the client still sends (nginx: lingering_time
    /// 30 s and lingering_timeout 5 s; here one bound).
    static let lingerTime = TimeAmount.seconds(5)

    func flushNow(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    /// A response that completed outside this connection's read (a proxied one, completed in the upstream's read
    /// event) is flushed with the loop's other writes of the batch (``TickFlusher``).
    func flushSoon(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            if flusher == nil { flusher = TickFlusher.of(context.eventLoop) }
            flusher!.flushSoon(context.channel)
        }
    }

    func drain(context: ChannelHandlerContext) {
        keepAlive.drain()
        if current == nil && timeouts.phase == .idle && (buffer?.readableBytes ?? 0) == 0 {
            closeAfterFlush(context: context)
        }
    }
}
