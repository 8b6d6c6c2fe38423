internal import Logging
public import NIOCore
internal import NIOHPACK
internal import NIOHTTP1
public import NIOHTTP2

/// Serves every stream of one HTTP/2 connection from frames, on the connection's channel.
///
/// swift-nio-http2 can give each stream its own child channel and pipeline; profiling showed that
/// machinery (channel set-up, activation, per-stream codec, pending read/write queues) costing more
/// than half of a small request's CPU. Here a stream is a small object (``HTTP2Stream``) in a
/// dictionary: HEADERS become the same `RequestHead` HTTP/1.1 produces and start the same
/// ``HTTPExchange``; DATA feeds the request's ``RequestBody``; the stream writes the response as
/// HEADERS and DATA frames, which `NIOHTTP2Handler` sends within the flow-control windows.
/// `NIOHTTP2ServerConnectionManagementHandler`, in front of this handler, sees the stream lifecycle
/// events `NIOHTTP2Handler` emits and keeps handling idle timeout, keep-alive pings and the
/// graceful GOAWAY.
public final class HTTP2ConnectionHandler: ChannelDuplexHandler {
    public typealias InboundIn = HTTP2Frame
    public typealias OutboundIn = HTTP2Frame
    public typealias OutboundOut = HTTP2Frame

    let runtimeBox: RuntimeBox
    let services: ConnectionServices
    let listener: ListenerContext
    var streams: [HTTP2StreamID: HTTP2Stream] = [:]
    /// What streams reach the connection through (see ``Link``).
    lazy var link = Link(self)

    /// Stands for the handler in its streams: a stream holds the link weakly (it may outlive the connection), the
    /// handler holds it strongly and is held by it unowned. Streams holding the handler itself weakly gave it a
    /// side table, and every retain and release of it (dozens per request) took the Swift runtime's slow path.
    final class Link {
        unowned let handler: HTTP2ConnectionHandler
        init(_ handler: HTTP2ConnectionHandler) { self.handler = handler }
    }
    private var connectionInfo = ConnectionInfo(remoteAddress: nil, localAddress: nil, protocolVersion: "2")
    var inRead = false
    var needsFlush = false
    /// Streams owed stream-level WINDOW_UPDATEs at the end of this read.
    private var owedCredit: [HTTP2StreamID: Int] = [:]
    /// The connection's receive window is kept between half and all of this.
    static let connectionWindowTarget = 1 << 20
    var context: ChannelHandlerContext?
    var eventLoop: (any EventLoop)? { context?.eventLoop }
    /// What this connection's exchanges share (the loop's clock among them), made in handlerAdded.
    var environment: ExchangeEnvironment?
    /// Counted in the open-connection gauge until the connection closes.
    private var counted = false
    private var snapshot: RuntimeSnapshot

    // Stall state (see HTTP2ConnectionHandler+Stalls.swift and HTTP2StallPolicy).
    let clock = MonotonicClock()
    var stallTimer: Scheduled<Void>?
    var connectionStall = HTTP2StallPolicy<MonotonicClock>.Connection()
    /// Bumped whenever the connection sends DATA (see `connectionSentData`).
    var outboundProgress = 0

    /// The stream receive window this connection announced (SETTINGS_INITIAL_WINDOW_SIZE).
    let initialWindowSize: Int

    public init(runtimeBox: RuntimeBox, services: ConnectionServices, listener: ListenerContext, initialWindowSize: Int = 65535) {
        self.initialWindowSize = initialWindowSize
        self.snapshot = RuntimeSnapshot(runtimeBox)
        self.runtimeBox = runtimeBox
        self.services = services
        self.listener = listener
        self.connectionInfo.scheme = listener.scheme
        self.connectionInfo.listener = listener.name
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        if counted {
            counted = false
            services.connectionClosed(http2: true)
        }
        self.context = nil
        stallTimer?.cancel()
        stallTimer = nil
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        environment = ExchangeEnvironment(context: context, services: services, extraHeaders: listener.extraHeaders)
        connectionInfo.remoteAddress = context.channel.remoteAddress
        connectionInfo.localAddress = context.channel.localAddress
        if connectionInfo.scheme == "https" { connectionInfo.tlsVersion = TLSErrorHandler.negotiatedVersion(context.pipeline) }
        counted = true
        services.connectionOpened(http2: true)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        inRead = true
        switch frame.payload {
        case .headers(let headers):
            if let stream = streams[frame.streamID], stream.exchange != nil {
                trailersReceived(headers, on: stream)
                break
            }
            if let problem = Self.malformation(headers.headers) ?? Self.lengthMismatch(headers) {
                // RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR.
                runtimeBox.current.logger.debug("malformed HTTP/2 request", metadata: ["stream": "\(frame.streamID)", "reason": "\(problem)"])
                write(HTTP2Frame(streamID: frame.streamID, payload: .rstStream(.protocolError)))
                break
            }
            let stream = streams[frame.streamID] ?? HTTP2Stream(id: frame.streamID, eventLoop: context.eventLoop, connection: self)
            streams[frame.streamID] = stream
            stream.requestEnded = headers.endStream
            start(stream, headers.headers, context: context)
        case .data(let data):
            guard let stream = streams[frame.streamID] else { break }
            // Padding is not the body's: its credit goes back at once (RFC 9113 §6.1).
            if let padding = data.paddingBytes { owedCredit[frame.streamID, default: 0] += padding + 1 }
            guard case .byteBuffer(let bytes) = data.data else { break }
            dataReceived(bytes, endStream: data.endStream, on: stream)
        default:
            break
        }
    }

    /// A second HEADERS on a stream: trailers, which must end the stream (RFC 9113 §8.1). On a
    /// stream the client already ended it is a stream error STREAM_CLOSED (§5.1, half-closed
    /// (remote)).
    private func trailersReceived(_ headers: HTTP2Frame.FramePayload.Headers, on stream: HTTP2Stream) {
        if stream.requestEnded {
            reset(stream, .streamClosed)
            return
        }
        guard headers.endStream, let trailers = Self.trailers(headers.headers) else {
            protocolError(on: stream, "trailers without END_STREAM, with pseudo-headers, or malformed")
            return
        }
        if let declared = stream.declaredLength, declared != stream.bodyBytesReceived {
            // §8.1.1: trailers end the body too; a short one is as malformed as a short DATA.
            protocolError(on: stream, "content-length \(declared) but \(stream.bodyBytesReceived) bytes of DATA")
            return
        }
        if let tunnel = stream.tunnel {
            stream.requestEnded = true
            tunnel.ended()
            return
        }
        bodyEnded(stream, trailers: trailers)
    }

    private func dataReceived(_ bytes: ByteBuffer, endStream: Bool, on stream: HTTP2Stream) {
        if stream.requestEnded {
            reset(stream, .streamClosed)
            return
        }
        stream.bodyBytesReceived += bytes.readableBytes
        if let declared = stream.declaredLength, stream.bodyBytesReceived > declared || (endStream && stream.bodyBytesReceived != declared) {
            protocolError(on: stream, "content-length \(declared) but \(stream.bodyBytesReceived) bytes of DATA")
            return
        }
        if let tunnel = stream.tunnel {
            if stream.tunnelPaused { stream.tunnelHeldCredit += bytes.readableBytes } else { credit(bytes.readableBytes, to: stream) }
            if bytes.readableBytes > 0 { tunnel.received(bytes) }
            if endStream {
                stream.requestEnded = true
                tunnel.ended()
            }
            return
        }
        if stream.exchange?.request.upgradeProtocol != nil, !(stream.exchange?.responseStarted ?? true) {
            // Before an extended CONNECT is answered its bytes wait, uncredited.
            stream.earlyTunnelData.append(bytes)
            if endStream { stream.requestEnded = true }
            return
        }
        if endStream { stream.clocks.bodyEnded() } else { stream.clocks.bodyProgressed(at: clock.now) }
        if !stream.body.append(bytes) {
            // Over max_body_bytes: 413 before the response, a reset after it (RFC 9113 §8.1).
            bodyOverLimit(stream)
            return
        }
        if endStream { bodyEnded(stream, trailers: nil) }
    }

    private func bodyEnded(_ stream: HTTP2Stream, trailers: HTTPHeaders?) {
        stream.requestEnded = true
        stream.clocks.bodyEnded()
        stream.body.finish(trailers: trailers)
    }

    private func bodyOverLimit(_ stream: HTTP2Stream) {
        stream.clocks.bodyEnded()
        guard let exchange = stream.exchange else { return }
        if exchange.finished {
            reset(stream, .noError)
        } else {
            exchange.bodyFailed(.tooLarge(limit: stream.body.maxBytes))
        }
    }

    private func protocolError(on stream: HTTP2Stream, _ reason: String) {
        runtimeBox.current.logger.debug("HTTP/2 stream error", metadata: ["stream": "\(stream.id)", "reason": "\(reason)"])
        reset(stream, .protocolError)
        // Gone first, so a body reader failing cannot answer on a stream that is reset.
        stream.exchange?.clientWentAway("stream error: \(reason)")
        stream.body.fail(.malformed(reason))
    }

    /// RFC 9113 §8.1.1: HEADERS that end the stream while declaring a non-zero content-length.
    static func lengthMismatch(_ headers: HTTP2Frame.FramePayload.Headers) -> String? {
        guard headers.endStream, let value = headers.headers.first(name: "content-length") else { return nil }
        return Int(value) == 0 ? nil : "content-length \(value) on a request without DATA"
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        inRead = false
        // Stream credit once per read, not once per DATA frame (a client sending 1-byte frames
        // gets one WINDOW_UPDATE per read, not per frame).
        sendOwedCredit(context: context)
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    /// Returns stream credit for bytes the body's reader (or the tunnel) took: gathered until the
    /// read ends when one is running, else sent now.
    func credit(_ bytes: Int, to stream: HTTP2Stream) {
        guard bytes > 0, !stream.requestEnded, !stream.closed, let context else { return }
        owedCredit[stream.id, default: 0] += bytes
        guard !inRead, !creditFlushScheduled else { return }  // the read's end sends it
        // Outside a read (a reader taking queued bytes), once per loop tick: a client sending
        // 1-byte DATA frames gets one WINDOW_UPDATE per batch, not one per frame.
        creditFlushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let handler = bound.value
            handler.creditFlushScheduled = false
            guard let context = handler.context, !handler.inRead else { return }
            handler.sendOwedCredit(context: context)
            handler.flushIfNeeded(context: context)
        }
    }

    private func sendOwedCredit(context: ChannelHandlerContext) {
        for (id, credit) in owedCredit where streams[id].map({ !$0.requestEnded }) ?? false {
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: credit))), promise: nil)
            needsFlush = true
        }
        owedCredit.removeAll(keepingCapacity: true)
    }

    private var creditFlushScheduled = false

    /// Stream and window events reach this handler as calls from `HTTP2StreamEventFilter` (see
    /// there); what the connection manager passes on ends here.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // Drain: tunnels are asked to close their own way (a WebSocket close frame); the
            // connection manager has sent GOAWAY and cuts the rest at its grace deadline.
            for (_, stream) in streams { stream.tunnel?.shouldClose() }
        }
    }

    /// The connection's receive window is now `size`; below half its target it is topped up from
    /// NIOHTTP2's own count, which also counts DATA it drops for streams already reset (never
    /// seen in channelRead).
    func connectionWindowChanged(_ size: Int) {
        guard let context, size < Self.connectionWindowTarget / 2 else { return }
        context.write(
            wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: Self.connectionWindowTarget - size))),
            promise: nil
        )
        needsFlush = true
        flushIfNeeded(context: context)
    }

    func streamClosed(_ id: HTTP2StreamID) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        stream.closed = true
        stream.tunnel?.ended()
        if let exchange = stream.exchange, !exchange.finished {
            exchange.clientWentAway("stream reset before the response was sent")
        } else {
            stream.body.fail(.clientGone)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            services.connectionClosed(http2: true)
        }
        let all = streams
        streams.removeAll()
        for (_, stream) in all {
            stream.closed = true
            stream.tunnel?.ended()
            stream.exchange?.clientWentAway("connection closed before the response was sent")
        }
        context.fireChannelInactive()
    }

    // MARK: - Requests

    private func start(_ stream: HTTP2Stream, _ headers: HPACKHeaders, context: ChannelHandlerContext) {
        let runtime = currentRuntime()
        let head = Self.requestHead(headers)
        stream.clocks.bodyRead = runtime.timeouts.bodyRead
        stream.clocks.send = runtime.timeouts.send
        let isTunnel = head.method == .CONNECT
        if !stream.requestEnded {
            stream.declaredLength = head.fields.first(name: "content-length").flatMap { Int($0) }
            if !isTunnel {
                // A tunnel's bytes before the answer are not a body the client owes.
                stream.clocks.bodyProgressed(at: clock.now)
                armStallTimer(context: context)
            }
        }
        if !stream.requestEnded && !isTunnel {
            stream.body = RequestBody(eventLoop: context.eventLoop, maxBytes: runtime.limits.maxBodyBytes, source: stream.bodySource)
        }
        let exchange = HTTPExchange.start(
            head: head, body: stream.body, connection: connectionInfo, runtime: runtime, environment: environment!,  // (handlerAdded)
            writer: stream
        )
        stream.exchange = exchange
        if isTunnel && exchange.request.upgradeProtocol == nil {
            // A classic CONNECT (a TCP tunnel to :authority): not a proxy's job here.
            exchange.send(.text(.methodNotAllowed, "405 Method Not Allowed: CONNECT is not supported\n"))
            return
        }
        exchange.respond()
        flushIfNeeded(context: context)
    }

    /// The runtime in force (see ``RuntimeSnapshot``).
    func currentRuntime() -> ServerRuntime {
        _ = snapshot.refresh(from: runtimeBox)
        return snapshot.runtime
    }

    func write(_ frame: HTTP2Frame, promise: EventLoopPromise<Void>? = nil) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(frame), promise: promise)
        needsFlush = true
    }

    func reset(_ stream: HTTP2Stream, _ code: HTTP2ErrorCode) {
        guard !stream.closed, !stream.resetSent, let context else { return }
        stream.resetSent = true
        stream.clocks.responseEnded()
        stream.clocks.bodyEnded()
        write(HTTP2Frame(streamID: stream.id, payload: .rstStream(code)))
        flushIfNeeded(context: context)
    }

    /// Inside the connection's read, frames wait for its end (`force`: now). Outside it, a whole response (one
    /// completed in an upstream's read event, or after a file read off the loop) goes with the loop's other writes of
    /// the batch (``TickFlusher``), so the streams answered in one batch share a write; streamed pieces (`force`)
    /// go at once.
    func flushIfNeeded(context: ChannelHandlerContext, force: Bool = false) {
        guard needsFlush, force || !inRead else { return }
        needsFlush = false
        if force || inRead { context.flush() } else { TickFlusher.flush(context.channel) }
    }
}
