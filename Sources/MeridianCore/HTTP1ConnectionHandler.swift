internal import Logging
internal import MeridianConfig
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


    /// The request being served. A class: it is updated in place many times per request, and a
    /// struct this size would be copied (with a retain per field) on every update.
    final class InFlight {
        let request: Request
        let runtime: ServerRuntime
        var route: String = ""
        var decision: KeepAliveStateMachine.Decision
        var bodyComplete = false
        var responseStarted = false
        var responseComplete = false
        var bodyBytesReceived = 0
        var failure: HTTPParseError?

        init(request: Request, runtime: ServerRuntime, decision: KeepAliveStateMachine.Decision) {
            self.request = request
            self.runtime = runtime
            self.decision = decision
        }
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
    var inRead = false
    var needsFlush = false
    var draining = false
    var parsing = false
    var closed = false

    // Timer state: one scheduled task, re-armed lazily (see `updateTimer`).
    var headStartedAt: NIODeadline?
    var lastActivity: NIODeadline = .now()
    var unwritableSince: NIODeadline?
    var timer: Scheduled<Void>?
    var timerDeadline: NIODeadline?
    var timeouts: Configuration.Timeouts
    /// Unparsed bytes held before reading stops (a client may pipeline this much ahead).
    let maxBuffered: Int

    let listener: ListenerContext

    public convenience init(runtimeBox: RuntimeBox, services: ConnectionServices, canSendFile: Bool) {
        self.init(runtimeBox: runtimeBox, services: services, listener: ListenerContext(canSendFile: canSendFile))
    }

    public init(runtimeBox: RuntimeBox, services: ConnectionServices, listener: ListenerContext) {
        self.listener = listener
        self.runtimeBox = runtimeBox
        self.services = services
        let runtime = runtimeBox.current
        self.keepAlive = KeepAliveStateMachine(maxRequests: runtime.limits.maxRequestsPerConnection)
        self.timeouts = runtime.timeouts
        self.maxBuffered = max(64 * 1024, runtime.limits.maxHeaderBytes + runtime.limits.maxRequestLine)
        self.parser = HTTP1RequestParser(limits: runtime.decoderLimits)
        self.connectionInfo.canSendFile = listener.canSendFile
        self.connectionInfo.scheme = listener.scheme
        self.connectionInfo.listener = listener.name
    }

    // MARK: - Channel events

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { becameActive(context: context) }
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
        lastActivity = .now()
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
        if let current, !current.responseComplete {
            finishRecord(current, status: .init(statusCode: 499), bytesSent: 0, error: "client closed the connection")
        }
        current = nil
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        lastActivity = .now()
        inRead = true
        if buffer == nil || buffer!.readableBytes == 0 {
            buffer = incoming
        } else {
            buffer!.writeBuffer(&incoming)
        }
        parse(context: context)
        updateTimer(context: context)
    }

    /// Parses buffered bytes while they belong to the request being served (its body) or while no
    /// request is in flight; stops at the head of the next pipelined request until this one is done.
    func parse(context: ChannelHandlerContext) {
        guard !parsing, !parseFailed, !closed else { return }
        parsing = true
        defer { parsing = false }
        while !closed, !parseFailed, var bytes = buffer {
            if let c = current, c.bodyComplete { break }  // answered or not, the next head waits
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
                if current == nil { headStartedAt = .now() }
            case .part(.head(let head)):
                startRequest(head, context: context)
            case .part(.body(let b)):
                current?.bodyBytesReceived += b.readableBytes
            case .part(.end):
                guard let c = current else { break }
                c.bodyComplete = true
                if c.responseComplete { requestDone(context: context) }
            }
        }
        if let b = buffer {
            if b.readableBytes == 0 {
                buffer = nil
            } else if b.readerIndex > 4096 {
                buffer!.discardReadBytes()
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
        if (buffer?.readableBytes ?? 0) >= maxBuffered || !context.channel.isWritable {
            readPending = true
        } else {
            context.read()
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            unwritableSince = nil
            parse(context: context)
            resumeReading(context: context)
        } else {
            unwritableSince = .now()
        }
        updateTimer(context: context)
        context.fireChannelWritabilityChanged()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:  // shutdown began
            drain(context: context)
        case let event as ChannelEvent where event == .inputClosed:
            // Half-close: answer what was asked, then close.
            inputClosed = true
            parse(context: context)
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
            c.failure = error
            c.bodyComplete = true
            keepAlive.forceClose()
            if c.responseComplete { closeAfterFlush(context: context) }
        } else {
            writeError(error, context: context)
        }
    }

    // MARK: - Requests

    func startRequest(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        headStartedAt = nil
        let runtime = runtimeBox.current
        let decision = keepAlive.requestReceived(version: head.version, connectionHeader: head.headers["connection"])
        let id = services.requestID(from: head.headers)
        if connectionInfo.scheme == "https", connectionInfo.tlsVersion == nil {
            connectionInfo.tlsVersion = TLSErrorHandler.negotiatedVersion(context.pipeline)
        }
        var info = connectionInfo
        info.protocolVersion = head.version.minor == 0 ? "1.0" : "1.1"
        let trace = runtime.tracing?.begin(head, connection: info)
        let request = Request(head: head, id: id, connection: info, trace: trace)
        let hasBody = head.headers.contains(name: "content-length") || head.headers.contains(name: "transfer-encoding")
        current = InFlight(request: request, runtime: runtime, decision: decision)
        services.requestStarted()
        for observer in runtime.observers { observer.requestStarted(request) }

        if let expect = head.headers.first(name: "expect") {
            if expect.lowercasedASCIIEquals("100-continue") {
                if head.version.minor >= 1 && hasBody {
                    var buffer = context.channel.allocator.buffer(capacity: 32)
                    buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
                    context.writeAndFlush(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
                }
            } else {
                keepAlive.forceClose()
                current?.decision = .close
                writeResponse(.text(.expectationFailed, "417 Expectation Failed\n"), context: context)
                return
            }
        }

        let (answer, route) = runtime.respond(to: request, on: context.eventLoop, allocator: context.channel.allocator)
        current?.route = route
        switch answer {
        case .immediate(let response):
            writeResponse(response, context: context)
        case .eventually(let future):
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            future.hop(to: context.eventLoop).whenComplete { result in
                let (handler, context) = loopBound.value
                guard !handler.closed else { return }
                switch result {
                case .success(let response):
                    handler.writeResponse(response, context: context)
                case .failure(let error):
                    handler.current.map { $0.runtime.logger }?.error(
                        "responder failed", metadata: ["request.id": "\(id)", "error": "\(error)"]
                    )
                    handler.writeResponse(.text(.internalServerError, "500 Internal Server Error\n"), context: context)
                }
            }
        }
    }

    /// Serialises a response; `responseComplete` follows when the last byte is queued (or, for
    /// bodies read off the loop, written).
    func responseQueued(status: HTTPResponseStatus, bytesSent: Int, context: ChannelHandlerContext) {
        guard let c = current else { return }
        c.responseComplete = true
        current = c
        finishRecord(c, status: status, bytesSent: bytesSent, error: c.failure.map(\.reason))
        if case .close = c.decision {
            closeAfterFlush(context: context)
            return
        }
        if c.failure != nil || keepAlive.isClosing {
            // A body that failed to parse (or a forced close) after the response began streaming.
            closeAfterFlush(context: context)
            return
        }
        if !inRead { flushNow(context: context) }
        if c.bodyComplete { requestDone(context: context) }
    }

    func finishRecord(_ c: InFlight, status: HTTPResponseStatus, bytesSent: Int, error: String?) {
        services.requestFinished()
        guard !c.runtime.observers.isEmpty else { return }
        let record = RequestRecord(
            request: c.request, route: c.route, status: status, bodyBytesSent: bytesSent,
            bodyBytesReceived: c.bodyBytesReceived, duration: NIODeadline.now() - c.request.startedAt, error: error
        )
        for observer in c.runtime.observers { observer.requestFinished(record) }
    }

    /// The current request is fully read and answered: move on to the next one.
    func requestDone(context: ChannelHandlerContext) {
        current = nil
        lastActivity = .now()
        if keepAlive.isDraining && (buffer?.readableBytes ?? 0) == 0 {
            closeAfterFlush(context: context)
            return
        }
        parse(context: context)
        updateTimer(context: context)
        resumeReading(context: context)
    }

    func resumeReading(context: ChannelHandlerContext) {
        if readPending && (buffer?.readableBytes ?? 0) < maxBuffered && context.channel.isWritable {
            readPending = false
            context.read()
        }
    }

    // MARK: - Errors, drain and close

    static func errorResponse(_ error: HTTPParseError) -> Response {
        .text(error.status, "\(error.status.code) \(error.status.reasonPhrase): \(error.reason)\n")
    }

    /// Answers a request that could not be parsed, then closes: its framing cannot be trusted.
    func writeError(_ error: HTTPParseError, context: ChannelHandlerContext) {
        keepAlive.forceClose()
        let runtime = runtimeBox.current
        runtime.logger.debug("bad request", metadata: ["status": "\(error.status.code)", "reason": "\(error.reason)"])
        var head = context.channel.allocator.buffer(capacity: 256)
        let response = Self.errorResponse(error)
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
            let started = headStartedAt ?? .now()
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
        let hardClose = context.eventLoop.scheduleTask(in: TimeAmount(timeouts.send)) {
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
        if current == nil && headStartedAt == nil && (buffer?.readableBytes ?? 0) == 0 {
            closeAfterFlush(context: context)
        }
    }

}
