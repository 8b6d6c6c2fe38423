internal import NIOCore
internal import NIOHTTP1

/// The body source and the protocol switch of an HTTP/1.1 connection.
extension HTTP1ConnectionHandler: RequestBody.Source {
    public func bodyConsumed(_ bytes: Int) {}

    /// `100 Continue`, if the client waits for it.
    public func bodyRequested() {
        guard let c = current, c.expectsContinue, !c.exchange.responseStarted, let context, !closed else { return }
        c.expectsContinue = false
        timeouts.bodyPaused(c.body.wantsNoMore, at: now)  // the body clock starts now
        updateTimer(context: context)
        var buffer = allocator.buffer(capacity: 32)
        buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
    }

    /// The reader caught up: parse what waits in the buffer, then read the socket again.
    public func bodyWantsMore() {
        guard let context, !closed else { return }
        timeouts.bodyPaused(false, at: now)
        parse(context: context)
        resumeReading(context: context)
        updateTimer(context: context)
    }

    /// `101 Switching Protocols` (RFC 9110 §15.2.2, §7.8), then the connection leaves HTTP/1.1:
    /// this handler makes way for an ``UpgradedConnectionHandler`` and the installer gets the
    /// pipe, with the bytes that followed the request as its first read.
    public func writeUpgrade(_ response: Response, upgrade: ProtocolUpgrade, for exchange: HTTPExchange) {
        guard let c = current, c.exchange === exchange, let context, !closed else { return }
        let request = exchange.request
        guard c.bodyComplete, !c.bodyBroken, !keepAlive.isDraining else {
            // The bytes after the request are not yet (or no longer) the new protocol's.
            c.decision = .close
            exchange.refuseUpgrade(upgrade, "the connection cannot switch now (body unread, broken, or draining)")
            return
        }
        var headers = response.headers
        headers.replaceOrAdd(name: "upgrade", value: upgrade.protocolName)
        for (name, value) in exchange.extraHeaders { headers.replaceOrAdd(name: name, value: value) }
        var head = allocator.buffer(capacity: 256)
        HTTP1ResponseHead.write(
            into: &head, status: .switchingProtocols, headers: headers, contentLength: nil, connection: .upgrade,
            serverHeader: exchange.runtime.serverHeader, requestID: request.id, date: exchange.date
        )
        emit(head, context: context)
        flushNow(context: context)
        c.upgraded = true
        exchange.finish(error: nil)
        current = nil
        timer?.cancel()
        timer = nil
        let leftover = buffer
        buffer = nil
        let upgraded = UpgradedConnectionHandler(services: services)
        do {
            try context.pipeline.syncOperations.addHandler(upgraded, position: .after(self))
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
            return
        }
        let stream = upgraded.start(context: context, leftover: leftover)
        upgrade.install(stream)
        if inputClosed { stream.ended() }
        context.channel.read()
    }
}
