internal import NIOCore
internal import NIOHPACK
internal import NIOHTTP1
internal import NIOHTTP2

/// Responses as frames: what ``HTTP2Stream`` does for its exchange.
extension HTTP2ConnectionHandler {
    /// HEADERS, then the whole body as one DATA frame (NIOHTTP2 splits it to the peer's frame
    /// size and sends it as the windows allow).
    func writeWhole(_ response: Response, sendBody: Bool, on stream: HTTP2Stream) {
        guard let exchange = stream.exchange, !stream.closed, let context else { return }
        let withBody = sendBody && response.body.length > 0
        let headers = responseHeaders(response, for: exchange)
        let headersFrame = HTTP2Frame(streamID: stream.id, payload: .headers(.init(headers: headers, endStream: !withBody)))
        guard withBody, case .buffer(let b) = response.body else {
            write(headersFrame, promise: endOfResponsePromise(stream, context: context))
            handedOver(stream, context: context)
            flushIfNeeded(context: context)
            return
        }
        write(headersFrame)
        let last = HTTP2Frame(streamID: stream.id, payload: .data(.init(data: .byteBuffer(b), endStream: true)))
        write(last, promise: endOfResponsePromise(stream, context: context))
        handedOver(stream, context: context)
        flushIfNeeded(context: context)
    }

    /// HEADERS of a response whose body follows in DATA frames.
    func writeHead(_ response: Response, on stream: HTTP2Stream) {
        guard let exchange = stream.exchange, !stream.closed, let context else { return }
        let headers = responseHeaders(response, for: exchange)
        write(HTTP2Frame(streamID: stream.id, payload: .headers(.init(headers: headers, endStream: false))))
        flushIfNeeded(context: context, force: true)
    }

    /// One DATA frame, flushed; the future completes when NIOHTTP2 has sent it (within the
    /// windows), which is the producer's backpressure and the stall rule's progress.
    func writeData(_ bytes: ByteBuffer, endStream: Bool, on stream: HTTP2Stream) -> EventLoopFuture<Void> {
        guard !stream.closed, let context else { return stream.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        let frame = HTTP2Frame(streamID: stream.id, payload: .data(.init(data: .byteBuffer(bytes), endStream: endStream)))
        let promise = (endStream ? endOfResponsePromise(stream, context: context) : nil) ?? context.eventLoop.makePromise()
        // The send clock runs only while a write waits: an idle stream (an SSE stream between
        // events, a quiet tunnel) is not stalled, one whose writes do not leave is.
        if stream.pendingWrites == 0 { stream.clocks.responseProgressed(at: clock.now) }
        stream.pendingWrites += 1
        armStallTimer(context: context)
        write(frame, promise: promise)
        flushIfNeeded(context: context, force: true)
        let bound = NIOLoopBound(stream, eventLoop: context.eventLoop)
        return promise.futureResult.always { _ in
            let stream = bound.value
            stream.pendingWrites -= 1
            if stream.pendingWrites == 0 { stream.clocks.responseEnded() } else { stream.clocks.responseProgressed(at: .now) }
        }
    }

    /// Trailer fields in a HEADERS frame that ends the stream (RFC 9113 §8.1), lower-cased (the
    /// request layer has already taken out what no trailer section may carry); gRPC's
    /// `grpc-status` travels this way.
    func writeTrailers(_ trailers: HTTPHeaders, on stream: HTTP2Stream) -> EventLoopFuture<Void> {
        guard !stream.closed, let context else { return stream.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        var fields = HPACKHeaders()
        for (name, value) in trailers { fields.add(name: name.lowercased(), value: value) }
        let promise = endOfResponsePromise(stream, context: context) ?? context.eventLoop.makePromise()
        write(HTTP2Frame(streamID: stream.id, payload: .headers(.init(headers: fields, endStream: true))), promise: promise)
        flushIfNeeded(context: context, force: true)
        return promise.futureResult
    }

    /// For the frame that ends a response sent before the request did: once that frame has gone
    /// out (a reset any earlier would discard response data still waiting for window), reset the
    /// stream with NO_ERROR so the client stops sending a body nobody reads (RFC 9113 §8.1).
    func endOfResponsePromise(_ stream: HTTP2Stream, context: ChannelHandlerContext) -> EventLoopPromise<Void>? {
        guard !stream.requestEnded, stream.tunnel == nil else { return nil }
        let promise = context.eventLoop.makePromise(of: Void.self)
        let bound = NIOLoopBound((self, stream), eventLoop: context.eventLoop)
        promise.futureResult.whenSuccess {
            let (handler, stream) = bound.value
            guard !stream.requestEnded else { return }
            handler.reset(stream, .noError)
        }
        return promise
    }

    /// A whole response went to NIOHTTP2, which sends it as flow control allows and closes the
    /// stream once its last frame is out (or resets it, see `endOfResponsePromise`). A stream still
    /// here after `timeouts.send` in which the connection sent no DATA is stuck behind a window
    /// the client never opens.
    func handedOver(_ stream: HTTP2Stream, context: ChannelHandlerContext) {
        guard !stream.closed else { return }
        stream.clocks.responseHandedOver(at: clock.now)
        armStallTimer(context: context)
    }

    /// The `200` to an extended CONNECT (RFC 8441 §5): the stream stays open both ways and becomes
    /// the installer's pipe. DATA that came before the answer is its first read.
    func writeUpgrade(_ response: Response, upgrade: ProtocolUpgrade, on stream: HTTP2Stream) {
        guard let exchange = stream.exchange, !stream.closed, let context else { return }
        var ok = Response(status: .ok, headers: response.headers)
        ok.headers.remove(name: "upgrade")
        var headers = responseHeaders(ok, for: exchange)
        headers.remove(name: "content-length")  // a 2xx to CONNECT has none (RFC 9110 §9.3.6)
        write(HTTP2Frame(streamID: stream.id, payload: .headers(.init(headers: headers, endStream: false))))
        flushIfNeeded(context: context, force: true)
        stream.clocks.bodyEnded()
        let tunnel = UpgradedStream(eventLoop: context.eventLoop, allocator: context.channel.allocator, transport: stream)
        stream.tunnel = tunnel
        services.streamUpgraded()
        tunnel.whenClosed { [services] in services.upgradedStreamClosed() }
        exchange.finish(error: nil)
        let early = stream.earlyTunnelData
        stream.earlyTunnelData = []
        var earlyBytes = 0
        for bytes in early {
            earlyBytes += bytes.readableBytes
            tunnel.received(bytes)
        }
        credit(earlyBytes, to: stream)
        upgrade.install(tunnel)
        if stream.requestEnded { tunnel.ended() }
    }
}
