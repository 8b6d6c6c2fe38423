internal import Logging
public import NIOCore
internal import NIOHTTP1
internal import NIOPosix

/// Serves one HTTP/1.1 connection: parsing, keep-alive, pipelining with responses in order,
/// timeouts, `Expect: 100-continue`, error answers for bad requests, and drain on shutdown.
///
/// All state is confined to the connection's event loop. The handler parses bytes itself (no
/// decoder handler in front, so no pipeline hop or boxing per request part) and parses a pipelined
/// request only once the one before it is answered: unparsed bytes simply wait in the buffer,
/// which also bounds how far a client can read ahead. Responses whose bodies are ready (buffers,
/// sendfile regions) are queued without waiting for the socket, so pipelined requests are answered
/// in one flush; only bodies read off the loop hold the next request back.
public final class HTTP1ConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = IOData
    public typealias OutboundOut = IOData


    /// The request being served: its exchange, and what this connection must do when it ends.
    final class InFlight {
        let exchange: HTTPExchange
        var decision: KeepAliveStateMachine.Decision
        var bodyComplete = false
        var responseComplete = false
        /// The body's framing broke (or it ran over a limit or stalled): the connection closes
        /// once the answer is out.
        var bodyBroken = false
        /// Body bytes of a streamed response go out chunk-framed.
        var chunked = false
        /// Switched protocols: the connection is no longer this handler's.
        var upgraded = false
        /// `Expect: 100-continue` and no `100` sent yet.
        var expectsContinue = false

        init(exchange: HTTPExchange, decision: KeepAliveStateMachine.Decision) {
            self.exchange = exchange
            self.decision = decision
        }

        var body: RequestBody { exchange.request.body }
    }

    let runtimeBox: RuntimeBox
    let services: ConnectionServices
    var keepAlive: KeepAliveStateMachine
    var connectionInfo = ConnectionInfo(remoteAddress: nil, localAddress: nil)
    /// Counted in the open-connection gauge (between becoming active and inactive).
    var counted = false
    var current: InFlight?
    var parser: HTTP1RequestParser
    /// Bytes read and not yet parsed.
    var buffer: ByteBuffer?
    var parseFailed = false
    var inputClosed = false
    var readPending = false
    /// The channel's writability as its last `channelWritabilityChanged` said (NIO fires it inline when a write crosses
    /// the high-water mark): `context.channel.isWritable` retained the channel to ask, on every read.
    var writable = true
    var inRead = false
    var needsFlush = false
    var draining = false
    var parsing = false
    var parseAgain = false
    /// Our side is shut and what the client still sends is read and dropped (see `closeAfterFlush`).
    var lingering = false
    var closed = false

    // Timeouts: which one runs is `timeouts`' to say; one scheduled task, re-armed lazily (see
    // `updateTimer`).
    /// The loop's clock (``LoopClock``: read once per batch of events), the environment's, kept from handlerAdded on.
    var loopClock: LoopClock?
    /// The time for an event now, as of the loop's batch.
    var now: MonotonicClock.Instant {
        if let loopClock { return loopClock.instant }  // (not `??`: its autoclosure went through generic Optional code)
        return .now
    }
    var timeouts: HTTP1ConnectionTimeouts<MonotonicClock>
    var timer: NIOScheduledCallback?
    var timerDeadline: MonotonicClock.Instant?
    /// Unparsed bytes held before reading stops (a client may pipeline this much ahead).
    let maxBuffered: Int
    /// The configuration the next (or current) request runs on: read again whenever a new
    /// request head begins, so a reload applies to the next request on every open connection.
    var snapshot: RuntimeSnapshot
    var runtime: ServerRuntime { snapshot.runtime }

    /// The listener's extra response headers (the rest of its context is in `connectionInfo`;
    /// every idle connection holds what is kept here).
    let extraHeaders: [(String, String)]
    var context: ChannelHandlerContext?
    /// The channel's allocator (the environment's), kept from handlerAdded on.
    var allocator = ByteBufferAllocator()
    /// The loop's ``TickFlusher``, kept from the first deferred flush on (the handler never leaves its loop).
    var flusher: TickFlusher?
    /// What this connection's exchanges share, made in handlerAdded.
    var environment: ExchangeEnvironment?
    /// What request bodies call back (see ``RequestBody/SourceLink``), made at the first request with one.
    lazy var bodySource = RequestBody.SourceLink(self)

    public convenience init(runtimeBox: RuntimeBox, services: ConnectionServices, canSendFile: Bool) {
        self.init(runtimeBox: runtimeBox, services: services, listener: ListenerContext(canSendFile: canSendFile))
    }

    public init(runtimeBox: RuntimeBox, services: ConnectionServices, listener: ListenerContext) {
        self.extraHeaders = listener.extraHeaders
        self.runtimeBox = runtimeBox
        self.services = services
        self.snapshot = RuntimeSnapshot(runtimeBox)
        let runtime = snapshot.runtime
        self.keepAlive = KeepAliveStateMachine(maxRequests: runtime.limits.maxRequestsPerConnection)
        self.timeouts = HTTP1ConnectionTimeouts(now: MonotonicClock.now)
        self.maxBuffered = max(64 * 1024, runtime.limits.maxHeaderBytes + runtime.limits.maxRequestLine)
        self.parser = HTTP1RequestParser(limits: runtime.decoderLimits)
        self.connectionInfo.canSendFile = listener.canSendFile
        self.connectionInfo.scheme = listener.scheme
        self.connectionInfo.listener = listener.name
    }

    // MARK: - Channel events

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let environment = ExchangeEnvironment(context: context, services: services, extraHeaders: extraHeaders)
        self.environment = environment
        allocator = environment.allocator
        loopClock = environment.clock
        writable = context.channel.isWritable
        if context.channel.isActive { becameActive(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
        timer = nil
        if counted {
            counted = false
            services.connectionClosed(http2: false)
        }
    }

    public func channelActive(context: ChannelHandlerContext) {
        becameActive(context: context)
        context.fireChannelActive()
    }

    func becameActive(context: ChannelHandlerContext) {
        if !counted {
            counted = true
            services.connectionOpened(http2: false)
        }
        connectionInfo.remoteAddress = context.channel.remoteAddress
        connectionInfo.localAddress = context.channel.localAddress
        timeouts.received(at: now)
        updateTimer(context: context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closed = true
        if counted {
            counted = false
            services.connectionClosed(http2: false)
        }
        timer?.cancel()
        timer = nil
        let gone = current
        current = nil
        gone?.exchange.clientWentAway("client closed the connection")
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if lingering { return }  // closing: what still arrives is dropped
        var incoming = unwrapInboundIn(data)
        timeouts.received(at: now)
        inRead = true
        let adopted = buffer == nil || buffer!.readableBytes == 0
        if adopted {
            buffer = incoming
        } else {
            buffer!.writeBuffer(&incoming)
        }
        parse(context: context)
        if adopted, let rest = buffer, rest.readableBytes > 0, !(current?.body.wantsNoMore ?? false) {
            // `incoming` is the channel's pooled receive buffer: holding it makes NIO allocate, and
            // keep for the connection's life, a second one for the next read. Keep a copy of what
            // is left instead (a head split across reads, or pipelined requests waiting).
            var own = allocator.buffer(capacity: rest.readableBytes)
            own.writeImmutableBuffer(rest)
            buffer = own
        }
        updateTimer(context: context)
    }

    /// Parses buffered bytes while they belong to the request being served (its body) or while no
    /// request is in flight; stops at the head of the next pipelined request until this one is done.
    func parse(context: ChannelHandlerContext) {
        guard !parsing else {
            // Asked again from inside (a reader resumed while a write completed in our flush):
            // the outer call goes round once more instead of dropping the request.
            parseAgain = true
            return
        }
        guard !parseFailed, !closed else { return }
        parsing = true
        defer { parsing = false }
        repeat {
            parseAgain = false
            parseOnce(context: context)
        } while parseAgain && !parseFailed && !closed
    }

    private func parseOnce(context: ChannelHandlerContext) {
        // A body's `.end` may be due with no bytes left (the reader paused parsing right after
        // the last piece), so an empty buffer still parses while the parser owes it.
        while !closed, !parseFailed, var bytes = buffer ?? (parser.endIsPending ? ByteBuffer() : nil) {
            if let c = current {
                if c.bodyComplete { break }  // answered or not, the next head waits
                if c.body.wantsNoMore { break }  // the reader is behind: bytes wait here
            } else if parser.isIdle {
                if bytes.readableBytes == 0 { break }  // nothing of a next request yet
                refreshRuntime()
            }
            buffer = nil  // keep `bytes` uniquely referenced while parsing
            let output: HTTP1RequestParser.Output?
            do {
                output = try parser.next(&bytes)
            } catch let error as HTTPParseError {
                buffer = bytes
                parseFailed = true
                failed(error, context: context)
                break
            } catch {
                buffer = bytes
                parseFailed = true
                context.close(promise: nil)
                break
            }
            buffer = bytes
            guard let output else { break }
            switch output {
            case .headStarted:
                if current == nil { timeouts.headStarted(at: now) }
            case .head(let head):
                startRequest(head, context: context)
            case .part(.head):
                assertionFailure("the parser gives heads as .head")
            case .part(.body(let b)):
                guard let c = current, !c.bodyComplete else { break }
                if !c.body.append(b) {
                    // Over max_body_bytes: 413 if the response has not begun, else the close.
                    bodyFailed(c, .tooLarge(limit: c.body.maxBytes), context: context)
                }
            case .part(.end(let trailers)):
                guard let c = current, !c.bodyComplete else { break }
                c.bodyComplete = true
                timeouts.bodyEnded()
                c.body.finish(trailers: trailers)
                if c.responseComplete, current === c { requestDone(context: context) }
            }
        }
        if let b = buffer {
            if b.readableBytes == 0 {
                buffer = nil
            } else if b.readerIndex > 4096 {
                buffer!.discardReadBytes()
            }
        }
        if let c = current, !c.bodyComplete {
            // Whether the body clock runs: not while the reader is behind (that wait is ours),
            // nor before a client waiting for `100 Continue` has been asked for the body.
            timeouts.bodyPaused(c.body.wantsNoMore || c.expectsContinue, at: now)
            if inputClosed && (buffer?.readableBytes ?? 0) == 0 && !parser.endIsPending && !c.body.wantsNoMore {
                // Everything sent has been parsed and the body is still short: it can never end.
                bodyCutShort(c, context: context)
                return
            }
        }
        if inputClosed && current == nil && !closed {
            // Half-closed and everything asked has been answered.
            closeAfterFlush(context: context)
        }
        if !inRead { flushNow(context: context) }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        inRead = false
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    public func read(context: ChannelHandlerContext) {
        if lingering {
            context.read()
            return
        }
        if (buffer?.readableBytes ?? 0) >= maxBuffered || !writable || current?.body.wantsNoMore == true {
            readPending = true
        } else {
            context.read()
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        timeouts.writabilityChanged(writable, at: now)
        if writable {
            parse(context: context)
            resumeReading(context: context)
        }
        updateTimer(context: context)
        context.fireChannelWritabilityChanged()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:  // shutdown began
            drain(context: context)
        case let event as ChannelEvent where event == .inputClosed && lingering:
            context.close(promise: nil)
        case let event as ChannelEvent where event == .inputClosed:
            // Half-close: answer what was asked, then close. A responder still waiting is told
            // (it may be a client that gave up: the proxy abandons its upstream request).
            inputClosed = true
            parse(context: context)  // a body cut short is found there, once its bytes are parsed
            if let c = current, c.bodyComplete, !c.exchange.responseStarted {
                c.exchange.clientClosedInput()
            }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // I/O errors (reset by peer and the like): nothing more can be said on this connection.
        context.close(promise: nil)
    }

    /// A parse error: before a head it is answered; in a body already answered, the connection
    /// just closes (a second answer to one request would desynchronise the client).
    func failed(_ error: HTTPParseError, context: ChannelHandlerContext) {
        if let c = current {
            bodyFailed(c, error.status == .payloadTooLarge ? .tooLarge(limit: c.body.maxBytes) : .malformed(error.reason), context: context)
        } else {
            writeError(error, context: context)
        }
    }

    /// The body of the request in flight cannot complete: nothing more is parsed on this
    /// connection; the exchange answers (413, 408, 400) or cuts its response, and the connection
    /// closes after.
    func bodyFailed(_ c: InFlight, _ error: RequestBodyError, context: ChannelHandlerContext) {
        c.bodyComplete = true
        timeouts.bodyEnded()
        c.bodyBroken = true
        parseFailed = true
        keepAlive.forceClose()
        if c.responseComplete {
            closeAfterFlush(context: context)
        } else {
            c.exchange.bodyFailed(error)
        }
    }

    // MARK: - Requests

    /// The client closed its side before the body ended: the client is gone, whatever it reads.
    func bodyCutShort(_ c: InFlight, context: ChannelHandlerContext) {
        c.bodyComplete = true
        c.bodyBroken = true
        parseFailed = true
        timeouts.bodyEnded()
        c.exchange.clientWentAway("client closed the connection before the request body ended")
        closeAfterFlush(context: context)
    }

    /// The configuration for the request about to begin.
    func refreshRuntime() {
        guard snapshot.refresh(from: runtimeBox) else { return }
        parser.limits = runtime.decoderLimits
        keepAlive.maxRequests = runtime.limits.maxRequestsPerConnection
    }

    func startRequest(_ head: RequestHead, context: ChannelHandlerContext) {
        let decision = keepAlive.requestReceived(version: head.version, connectionHeader: head.fields["connection"])
        if connectionInfo.scheme == "https", connectionInfo.tlsVersion == nil,
            let version = TLSErrorHandler.negotiatedVersion(context.pipeline)
        {
            connectionInfo.tlsVersion = version  // (set once: a setter copies the box earlier requests share)
        }
        var info = connectionInfo
        info.protocolVersion = head.version.minor == 0 ? "1.0" : "1.1"
        let hasBody = !parser.endIsPending
        let body = hasBody ? RequestBody(eventLoop: context.eventLoop, maxBytes: runtime.limits.maxBodyBytes, source: bodySource) : .none
        let exchange = HTTPExchange.start(
            head: head, body: body, connection: info, runtime: runtime, environment: environment!,  // (made in handlerAdded)
            writer: self
        )
        let c = InFlight(exchange: exchange, decision: decision)
        c.bodyComplete = !hasBody  // the parser's `.end` for it follows and is passed over
        timeouts.requestStarted(bodyExpected: hasBody, at: now)
        current = c

        if let expect = head.fields.first(name: "expect") {
            if expect.lowercasedASCIIEquals("100-continue") {
                // `100 Continue` goes out when the body is first read (RFC 9110 §10.1.1), so a
                // request refused without reading it is never sent.
                c.expectsContinue = head.version.minor >= 1 && hasBody
            } else {
                keepAlive.forceClose()
                c.decision = .close
                exchange.send(.text(.expectationFailed, "417 Expectation Failed\n"))
                return
            }
        }
        exchange.respond()
    }

    /// The current request is fully read and answered: move on to the next one.
    func requestDone(context: ChannelHandlerContext) {
        current = nil
        timeouts.requestDone(at: now)
        if keepAlive.isDraining && (buffer?.readableBytes ?? 0) == 0 {
            closeAfterFlush(context: context)
            return
        }
        parse(context: context)
        updateTimer(context: context)
        resumeReading(context: context)
    }

    func resumeReading(context: ChannelHandlerContext) {
        if readPending && (buffer?.readableBytes ?? 0) < maxBuffered && writable && current?.body.wantsNoMore != true {
            readPending = false
            context.read()
        }
    }
}
