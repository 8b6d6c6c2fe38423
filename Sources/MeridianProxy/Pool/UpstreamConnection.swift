internal import MeridianCore
internal import NIOCore
internal import NIOHTTP1
internal import NIOSSL

/// What hears an upstream response, part by part: the exchange the connection is lent to.
protocol UpstreamResponseDelegate: AnyObject {
    /// A response head; `facts` are its framing and connection fields (read by the codec, which then left them out
    /// of `head` with the other fields the client does not get: ``ResponseHeadFacts/filtered``).
    func upstreamHead(_ head: HTTPResponseHead, facts: ResponseHeadFacts)
    func upstreamBody(_ bytes: ByteBuffer)
    /// The response ended; `trailers` when the upstream sent some (chunked, or HTTP/2).
    func upstreamEnd(trailers: HTTPHeaders?)
    /// A `101` ended: the connection now carries another protocol (the HTTP handlers can go).
    func upstreamSwitched()
    /// The connection closed, reset, or sent something that is not HTTP before the response ended.
    func upstreamFailed(_ failure: ProxyFailure)
}

/// One keep-alive HTTP/1.1 connection to an endpoint: ``UpstreamHTTP1Codec`` (or, for an HTTP/2 stream, NIOHTTP2's
/// HTTP/1 client codec) on a channel of the downstream connection's event loop, so a proxied request never changes
/// threads. One request at a time. Confined to its event loop (every use is on it), which is what
/// makes the unchecked `Sendable` safe: futures of its loop carry it.
final class UpstreamConnection: @unchecked Sendable {
    let channel: any Channel
    let endpoint: Int
    let handler: UpstreamConnectionHandler
    /// Requests sent on it, for `max_requests_per_connection`.
    var requestsSent = 0
    /// When it went idle in the pool (the pool's sweep closes it after the idle timeout).
    var idleSince = NIODeadline.now()
    /// The upstream said `Connection: close`, a response ended early, or the request was cut: not
    /// to be lent again.
    var reusable = true
    /// An HTTP/2 stream of a multiplexed connection: used once, never pooled.
    var isStream = false

    init(channel: any Channel, endpoint: Int, handler: UpstreamConnectionHandler) {
        self.channel = channel
        self.endpoint = endpoint
        self.handler = handler
    }

    var isActive: Bool { channel.isActive && !handler.closed }

    /// Queues a request head (flushed with the body or the end); the delegate hears the response.
    func send(_ head: HTTPRequestHead, delegate: any UpstreamResponseDelegate) {
        requestsSent += 1
        handler.delegate = delegate
        handler.write(.head(head))
    }

    /// Whether heads go out as bytes (``send(encodedHead:isHEAD:chunked:delegate:)``): an HTTP/1.1 connection with
    /// ``UpstreamHTTP1Codec``, not an HTTP/2 stream.
    var takesEncodedHeads: Bool { handler.codec != nil }

    /// Queues a request head already encoded for HTTP/1.1, like ``send(_:delegate:)`` (only where
    /// ``takesEncodedHeads``).
    func send(encodedHead: ByteBuffer, isHEAD: Bool, chunked: Bool, delegate: any UpstreamResponseDelegate) {
        requestsSent += 1
        handler.delegate = delegate
        if !handler.closed { handler.codec?.sendHead(encodedHead, isHEAD: isHEAD, chunked: chunked) }
    }

    /// Sends a piece of the request body; the future completes once it has been written.
    func sendBody(_ bytes: ByteBuffer) -> EventLoopFuture<Void> {
        handler.writeAndFlush(.body(.byteBuffer(bytes)))
    }

    /// Ends the request (nobody waits for this write: no future is made for it).
    func sendEnd(_ trailers: HTTPHeaders?) {
        handler.writeAndFlush(.end(trailers), promise: nil)
    }

    /// Stops (false) or resumes reading the response: the downstream's backpressure.
    func setReading(_ on: Bool) { handler.setReading(on) }

    func close() {
        reusable = false
        handler.delegate = nil
        handler.closeNow()
    }
}

/// The channel end of an ``UpstreamConnection``: forwards response parts to the exchange,
/// holds reads while the exchange is behind, and reports the connection's end to the pool.
final class UpstreamConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// The exchange the connection is lent to; nil while idle.
    var delegate: (any UpstreamResponseDelegate)?
    /// Runs once when the channel has closed (the pool forgets the connection).
    var onClose: (() -> Void)?
    /// The HTTP/1.1 codec before this handler, when it is ``UpstreamHTTP1Codec``: request parts go to it as direct
    /// calls (it hands response parts back the same way, ``received(_:)``). Nil for an HTTP/2 stream (NIOHTTP2's
    /// codec), whose parts go through the pipeline.
    var codec: UpstreamHTTP1Codec?
    private(set) var closed = false
    private var context: ChannelHandlerContext?
    /// The loop's ``TickFlusher``, kept from the first flush on (the connection never leaves its loop).
    private lazy var flusher = TickFlusher.of(eventLoop)
    private var reading = true
    private var readPending = false
    /// The response head was a 101: its end means the switch.
    private var switching = false
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        codec = nil  // (the codec and this handler refer to each other until they leave the pipeline)
    }

    /// Writes and flushes a part at once; the future completes once it has been written. (A body piece: the body
    /// pump goes on while the channel is writable, and NIO counts unflushed bytes only at the flush, so a deferred
    /// flush let a fast client's upload pile up here: 35 MiB of RSS over a 1 GiB upload, against ~1 MiB.)
    func writeAndFlush(_ part: HTTPClientRequestPart) -> EventLoopFuture<Void> {
        guard let context, !closed else { return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        let promise = eventLoop.makePromise(of: Void.self)
        pass(part, context: context, promise: promise)
        context.flush()
        return promise.futureResult
    }

    /// Writes a part (the request's end) and flushes it with the loop's other writes of this batch (``TickFlusher``).
    func writeAndFlush(_ part: HTTPClientRequestPart, promise: EventLoopPromise<Void>?) {
        guard let context, !closed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        pass(part, context: context, promise: promise)
        flusher.flushSoon(context.channel)
    }

    /// Queues a part without flushing.
    func write(_ part: HTTPClientRequestPart) {
        guard let context, !closed else { return }
        pass(part, context: context, promise: nil)
    }

    /// A request part to the codec: straight to ``UpstreamHTTP1Codec``, else down the pipeline (not flushed).
    private func pass(_ part: HTTPClientRequestPart, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        if let codec { codec.send(part, promise: promise) } else { context.write(wrapOutboundOut(part), promise: promise) }
    }

    func setReading(_ on: Bool) {
        guard reading != on else { return }
        reading = on
        if on, readPending, let context {
            readPending = false
            context.read()
        }
    }

    func closeNow() {
        guard !closed, let context else { return }
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if reading { context.read() } else { readPending = true }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received(unwrapInboundIn(data))
    }

    /// A response part, from the pipeline or straight from ``UpstreamHTTP1Codec``.
    func received(_ part: HTTPClientResponsePart) {
        guard let delegate else {
            // Bytes on an idle connection: the upstream is not keeping to HTTP/1.1 keep-alive;
            // the connection cannot be trusted with another request.
            context?.close(promise: nil)
            return
        }
        switch part {
        case .head(let head):
            receivedHead(head, facts: ResponseHeadFacts(head.headers))
        case .body(let bytes):
            delegate.upstreamBody(bytes)
        case .end(let trailers):
            self.delegate = nil
            if switching { delegate.upstreamSwitched() } else { delegate.upstreamEnd(trailers: trailers) }
        }
    }

    /// A response head with its facts, straight from ``UpstreamHTTP1Codec`` (or from ``received(_:)``).
    func receivedHead(_ head: HTTPResponseHead, facts: ResponseHeadFacts) {
        guard let delegate else {
            context?.close(promise: nil)
            return
        }
        switching = head.status == .switchingProtocols
        delegate.upstreamHead(head, facts: facts)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure: ProxyFailure
        if error is HTTPParserError || error is ByteToMessageDecoderError {
            failure = ProxyFailure(.invalidResponse, "\(error)")
        } else if error is NIOSSLError || error is BoringSSLError {
            // The handshake (or the certificate check) failed: nothing reached the upstream.
            failure = ProxyFailure(.connectFailure, "TLS: \(error)")
        } else {
            failure = ProxyFailure(.reset, "\(error)")
        }
        fail(failure)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        fail(ProxyFailure(.reset, "the upstream closed the connection"))
        let onClose = self.onClose
        self.onClose = nil
        onClose?()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            fail(ProxyFailure(.reset, "the upstream closed its side"))
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func fail(_ failure: ProxyFailure) {
        guard let delegate else { return }
        self.delegate = nil
        delegate.upstreamFailed(failure)
    }
}
