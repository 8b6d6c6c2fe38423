internal import Logging
internal import MeridianConfig
public import NIOCore
public import NIOHTTP1
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

    /// Sent to every connection when shutdown begins.
    public struct DrainEvent: Sendable { public init() {} }

    /// The request being served. A class: it is updated in place many times per request, and a
    /// struct this size would be copied (with a retain per field) on every update.
    private final class InFlight {
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

    private let runtimeBox: RuntimeBox
    private let services: ConnectionServices
    private var keepAlive: KeepAliveStateMachine
    private var connectionInfo = ConnectionInfo(remoteAddress: nil, localAddress: nil)
    private var current: InFlight?
    private var parser: HTTP1RequestParser
    /// Bytes read and not yet parsed.
    private var buffer: ByteBuffer?
    private var parseFailed = false
    private var inputClosed = false
    private var readPending = false
    private var inRead = false
    private var needsFlush = false
    private var draining = false
    private var parsing = false
    private var closed = false

    // Timer state: one scheduled task, re-armed lazily (see `updateTimer`).
    private var headStartedAt: NIODeadline?
    private var lastActivity: NIODeadline = .now()
    private var unwritableSince: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var timeouts: Configuration.Timeouts
    /// Unparsed bytes held before reading stops (a client may pipeline this much ahead).
    private let maxBuffered: Int

    private let listener: ListenerContext

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
    }

    // MARK: - Channel events

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { becameActive(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        becameActive(context: context)
        context.fireChannelActive()
    }

    private func becameActive(context: ChannelHandlerContext) {
        connectionInfo.remoteAddress = context.channel.remoteAddress
        connectionInfo.localAddress = context.channel.localAddress
        lastActivity = .now()
        updateTimer(context: context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closed = true
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
    private func parse(context: ChannelHandlerContext) {
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
        case is ChannelShouldQuiesceEvent, is DrainEvent:
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
    private func failed(_ error: HTTPParseError, context: ChannelHandlerContext) {
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

    private func startRequest(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        headStartedAt = nil
        let runtime = runtimeBox.current
        let decision = keepAlive.requestReceived(version: head.version, connectionHeader: head.headers["connection"])
        let id = services.requestID(from: head.headers)
        var info = connectionInfo
        info.protocolVersion = head.version.minor == 0 ? "1.0" : "1.1"
        let request = Request(head: head, id: id, connection: info)
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
    private func writeResponse(_ response: Response, context: ChannelHandlerContext) {
        guard let c = current, !c.responseStarted else { return }
        var response = response
        if let failure = c.failure {
            response = Self.errorResponse(failure)
            c.decision = .close
        }
        c.responseStarted = true
        if keepAlive.isDraining || keepAlive.isClosing { c.decision = .close }
        current = c

        let isHead = c.request.isHead
        let sendBody = response.statusAllowsBody && !isHead
        let contentLength: Int? = response.statusAllowsBody ? response.body.length : nil
        let token: HTTP1ResponseHead.ConnectionToken
        switch c.decision {
        case .close: token = .close
        case .keepAlive(let announce): token = announce ? .keepAlive : .none
        }
        var head = context.channel.allocator.buffer(capacity: 256 + (sendBody ? min(response.body.length, 16384) : 0))
        if !listener.extraHeaders.isEmpty {
            for (name, value) in listener.extraHeaders { response.headers.replaceOrAdd(name: name, value: value) }
        }
        HTTP1ResponseHead.write(
            into: &head, status: response.status, headers: response.headers, contentLength: contentLength,
            connection: token, serverHeader: c.runtime.serverHeader, requestID: c.request.id
        )
        let bodyBytes = sendBody ? response.body.length : 0

        guard sendBody else {
            emit(head, context: context)
            responseQueued(status: response.status, bytesSent: 0, context: context)
            return
        }
        switch response.body {
        case .empty:
            emit(head, context: context)
        case .buffer(var b):
            if b.readableBytes <= 16384 {
                head.writeBuffer(&b)
                emit(head, context: context)
            } else {
                emit(head, context: context)
                emit(b, context: context)
            }
        case .file(let slice):
            if connectionInfo.canSendFile {
                cork(true, context: context)
                emit(head, context: context)
                emitFile(slice, context: context)
                cork(false, context: context)
            } else {
                emit(head, context: context)
                streamParts([.file(slice)], status: response.status, total: bodyBytes, context: context)
                return
            }
        case .parts(let parts):
            emit(head, context: context)
            if connectionInfo.canSendFile {
                for part in parts {
                    switch part {
                    case .buffer(let b): emit(b, context: context)
                    case .file(let s): emitFile(s, context: context)
                    }
                }
            } else {
                streamParts(parts, status: response.status, total: bodyBytes, context: context)
                return
            }
        }
        responseQueued(status: response.status, bytesSent: bodyBytes, context: context)
    }

    /// TCP_CORK around a head and its sendfile body, as nginx's `tcp_nopush` does: the head leaves in
    /// the same segment as the first file bytes, and every segment of the body is full-sized. The
    /// uncork is queued as a write so it happens once the file has been handed to the kernel.
    private func cork(_ on: Bool, context: ChannelHandlerContext) {
        #if os(Linux)
        guard let options = context.channel.syncOptions else { return }
        let option = ChannelOptions.Types.SocketOption(level: IPPROTO_TCP, name: TCP_CORK)
        if on {
            try? options.setOption(option, value: 1)
        } else {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.write(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0)))).whenComplete { _ in
                try? loopBound.value.channel.syncOptions?.setOption(option, value: 0)
            }
        }
        #endif
    }

    private func emit(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
        needsFlush = true
    }

    private func emitFile(_ slice: FileSlice, context: ChannelHandlerContext) {
        let region = FileRegion(fileHandle: slice.handle, readerIndex: slice.offset, endIndex: slice.offset + slice.length)
        let owner = slice.owner
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in withExtendedLifetime(owner) {} }
        context.write(wrapOutboundOut(.fileRegion(region)), promise: promise)
        needsFlush = true
    }

    /// Bodies that may not use sendfile (TLS, or `sendfile: false`) are read in chunks off the event
    /// loop; each chunk is written before the next is read, so a slow reader holds no whole file here.
    private func streamParts(_ parts: [ResponseBodyPart], status: HTTPResponseStatus, total: Int, context: ChannelHandlerContext) {
        flushNow(context: context)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let writer = services.fileReader
        var future = context.eventLoop.makeSucceededVoidFuture()
        for part in parts {
            future = future.flatMap {
                let (handler, context) = loopBound.value
                guard !handler.closed else { return context.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
                switch part {
                case .buffer(let b):
                    return context.writeAndFlush(handler.wrapOutboundOut(.byteBuffer(b)))
                case .file(let slice):
                    return writer.stream(slice, eventLoop: context.eventLoop, allocator: context.channel.allocator) { chunk in
                        let (handler, context) = loopBound.value
                        guard !handler.closed else { return context.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
                        return context.writeAndFlush(handler.wrapOutboundOut(.byteBuffer(chunk)))
                    }
                }
            }
        }
        future.whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success:
                handler.responseQueued(status: status, bytesSent: total, context: context)
            case .failure(let error):
                if let c = handler.current {
                    handler.finishRecord(c, status: status, bytesSent: 0, error: "\(error)")
                    handler.current?.responseComplete = true
                }
                context.close(promise: nil)
            }
        }
    }

    private func responseQueued(status: HTTPResponseStatus, bytesSent: Int, context: ChannelHandlerContext) {
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

    private func finishRecord(_ c: InFlight, status: HTTPResponseStatus, bytesSent: Int, error: String?) {
        services.requestFinished()
        guard !c.runtime.observers.isEmpty else { return }
        let record = RequestRecord(
            request: c.request, route: c.route, status: status, bodyBytesSent: bytesSent,
            bodyBytesReceived: c.bodyBytesReceived, duration: NIODeadline.now() - c.request.startedAt, error: error
        )
        for observer in c.runtime.observers { observer.requestFinished(record) }
    }

    /// The current request is fully read and answered: move on to the next one.
    private func requestDone(context: ChannelHandlerContext) {
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

    private func resumeReading(context: ChannelHandlerContext) {
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
    private func writeError(_ error: HTTPParseError, context: ChannelHandlerContext) {
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
        closeAfterFlush(context: context)
    }

    private func closeAfterFlush(context: ChannelHandlerContext) {
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

    private func flushNow(context: ChannelHandlerContext) {
        if needsFlush {
            needsFlush = false
            context.flush()
        }
    }

    private func drain(context: ChannelHandlerContext) {
        keepAlive.drain()
        if current == nil && headStartedAt == nil && (buffer?.readableBytes ?? 0) == 0 {
            closeAfterFlush(context: context)
        }
    }

    // MARK: - Timeouts

    private enum TimeoutKind { case idle, headerRead, bodyRead, send }

    /// The deadline that applies in the connection's present phase.
    private func currentDeadline() -> (NIODeadline, TimeoutKind)? {
        if let since = unwritableSince {
            return (since + TimeAmount(timeouts.send), .send)
        }
        if let c = current {
            if !c.bodyComplete { return (lastActivity + TimeAmount(timeouts.bodyRead), .bodyRead) }
            return nil  // waiting on a responder: its own timeouts apply
        }
        if let started = headStartedAt {
            return (started + TimeAmount(timeouts.headerRead), .headerRead)
        }
        return (lastActivity + TimeAmount(timeouts.idle), .idle)
    }

    /// Keeps one timer armed no later than the current deadline. Deadlines that move later (the
    /// steady state of a busy keep-alive connection) cost nothing: the timer re-checks when it fires.
    private func updateTimer(context: ChannelHandlerContext) {
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

    private func timerFired(context: ChannelHandlerContext) {
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
            if let c = current, !c.responseStarted {
                current?.failure = HTTPParseError(.requestTimeout, "request body not received in time")
                current?.bodyComplete = true
                keepAlive.forceClose()
                writeResponse(.text(.requestTimeout, ""), context: context)
            } else {
                closed = true
                context.close(promise: nil)
            }
        }
    }
}

