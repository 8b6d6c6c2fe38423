internal import Logging
internal import NIOCore
internal import NIOHTTP1

/// Bad requests, drain and close on an HTTP/1.1 connection.
extension HTTP1ConnectionHandler {
    /// Answers a request that could not be parsed, then closes: its framing cannot be trusted.
    func writeError(_ error: HTTPParseError, context: ChannelHandlerContext) {
        keepAlive.forceClose()
        let runtime = runtimeBox.current
        runtime.logger.debug("bad request", metadata: ["status": "\(error.status.code)", "reason": "\(error.reason)"])
        var head = context.channel.allocator.buffer(capacity: 256)
        let response = Response.text(error.status, "\(error.status.code) \(error.status.reasonPhrase): \(error.reason)\n")
        HTTP1ResponseHead.write(
            into: &head, status: response.status, headers: response.headers, contentLength: response.body.length,
            connection: .close, serverHeader: runtime.serverHeader, requestID: nil
        )
        if case .buffer(var b) = response.body { head.writeBuffer(&b) }
        emit(head, context: context)
        services.rejectedRequest(status: error.status)
        if !runtime.observers.isEmpty {
            // No request was parsed, but the access log and metrics should still show the answer
            // (as nginx logs its 400s): method and target are "-".
            var started = NIODeadline.now()
            if case .head(let since) = timeouts.phase { started = started - TimeAmount(clock.now - since) }
            let request = Request(
                head: HTTPRequestHead(version: .http1_1, method: .RAW(value: "-"), uri: "-"), id: services.requestID(from: [:]),
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
        let hardClose = context.eventLoop.scheduleTask(in: TimeAmount(timeouts.limits.send)) {
            loopBound.value.close(promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0)))).whenComplete { _ in
            hardClose.cancel()
            loopBound.value.close(promise: nil)
        }
    }

    func flushNow(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    func drain(context: ChannelHandlerContext) {
        keepAlive.drain()
        if current == nil && timeouts.phase == .idle && (buffer?.readableBytes ?? 0) == 0 {
            closeAfterFlush(context: context)
        }
    }
}
