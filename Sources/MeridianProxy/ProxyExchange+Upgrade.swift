internal import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// `Upgrade` through the proxy (WebSocket and others, RFC 9110 §7.8): the request goes upstream
/// with `Connection: upgrade`, and after the upstream's `101` the connection leaves the pool and
/// becomes a byte tunnel to the client's pipe. An HTTP/2 client's extended CONNECT (RFC 8441)
/// becomes an HTTP/1.1 `GET` with `Upgrade: websocket` and a `Sec-WebSocket-Key` of ours, as Envoy
/// does; the client gets the `200` its protocol expects.
extension ProxyExchange {
    /// The upstream agreed to switch: the response head is kept; the switch happens at its end.
    func switchingHead(_ head: HTTPResponseHead) {
        guard request.upgradeProtocol != nil else {
            connection?.close()
            tryFailed(ProxyFailure(.invalidResponse, "101 Switching Protocols to a request that did not ask to switch"))
            return
        }
        cancelTimers()
        responseHead = head
        lastStatus = head.status.code
        context.annotate(UpstreamResponseAnnotation.self, Self.milliseconds(since: headSentAt))
        record(.success)
    }

    func upstreamSwitched() {
        guard let connection, let head = responseHead, head.status == .switchingProtocols, !finished else { return }
        self.connection = nil
        loop.pools[connection.endpoint].detach(connection)
        let tunnel = UpstreamTunnel(idle: TimeAmount(route.cluster.config.timeouts.idle))
        let bound = NIOLoopBound(tunnel, eventLoop: eventLoop)
        var switchHeaders = route.rewriter.responseHeaders(head.headers)
        if request.version.major == 2 { switchHeaders.remove(name: "sec-websocket-accept") }  // RFC 8441 §5: no key, no accept
        let headers = switchHeaders
        let upgrade = ProtocolUpgrade(protocolName: request.upgradeProtocol ?? "websocket") { stream in
            bound.value.attach(stream)
        }
        // Outside the decoder's read loop: the decoder has stopped parsing, keeps what arrived
        // after the 101, and hands it to the tunnel when it is removed.
        eventLoop.execute { [self] in
            let ops = connection.channel.pipeline.syncOperations
            let decoderGone = eventLoop.makePromise(of: Void.self)
            do {
                try ops.addHandler(bound.value)
                ops.removeHandler(connection.handler, promise: nil)
                try ops.removeHandler(ops.handler(type: UpstreamHTTP1Codec.self), promise: decoderGone)
            } catch {
                decoderGone.fail(error)
            }
            // The decoder leaves a tick later (handing over what it held); the client may send
            // tunnel bytes only once it has, so the switch is answered then.
            decoderGone.futureResult.whenComplete { [self] result in
                guard case .success = result, !finished else {
                    connection.close()
                    finish(with: Self.errorResponse(.badGateway, "the upstream connection could not switch"), code: "invalid_response")
                    return
                }
                annotate()
                answer(.switchingProtocols(upgrade, headers: headers))
                end()
            }
        }
    }
}
