internal import Logging
public import NIOCore
public import NIOHTTP1

/// One request's life, the same over HTTP/1.1 and HTTP/2: the configuration it runs on, its id
/// and trace, the observers' start and finish, the responder call (a failure becomes 500), the
/// response driven through the protocol's ``ResponseWriter`` (streamed and file-chunk bodies
/// included), the ``RequestRecord``, 499 when the client goes first, and the client-gone signal.
///
/// A protocol handler only frames: it builds the head, creates the exchange, feeds the body,
/// and tells it when the client has gone. Confined to the connection's event loop (the unchecked
/// `Sendable` lets a ``RequestContext`` carry it; every method runs on that loop).
public final class HTTPExchange: @unchecked Sendable {
    public let request: Request
    /// The configuration this request runs on from start to end, whatever reloads meanwhile.
    public let runtime: ServerRuntime
    /// What the connection's exchanges share (one reference: see ``ExchangeEnvironment``).
    let environment: ExchangeEnvironment
    var services: ConnectionServices { environment.services }
    var eventLoop: any EventLoop { environment.eventLoop }
    var allocator: ByteBufferAllocator { environment.allocator }
    /// Added to every response (HSTS and the like).
    var extraHeaders: [(String, String)] { environment.extraHeaders }
    /// The loop's clock when the protocol handler keeps one (the record's duration ends at its batch's time).
    var clock: LoopClock? { environment.clock }
    /// Cleared when the exchange ends (it and the handler refer to each other until then).
    private var writer: (any ResponseWriter)?

    /// The response's `Date` field value, for both protocols' writers: the loop clock's (no thread-local lookup or
    /// clock read per response), else the thread's ``DateCache``.
    var date: String { clock?.date ?? DateCache.current.value }
    /// The matched route pattern; empty when none matched.
    public private(set) var route = ""
    /// What actions added for the record (upstream, cache status, encoding, upgrade).
    public var annotations = RecordAnnotations()
    public private(set) var responseStarted = false
    public private(set) var finished = false
    /// The status answered (or being answered).
    public private(set) var status: HTTPResponseStatus = .ok
    /// Body bytes handed to the writer so far.
    public private(set) var bytesSent = 0
    /// Why the client went away, once it has.
    public private(set) var goneReason: String?
    /// The client closed its side (HTTP/1.1 FIN) while the response was pending.
    public private(set) var inputClosed = false
    /// Who hears the client go: the first inline (most requests have one, the proxy's), others in `moreGoneCallbacks`,
    /// so the usual request allocates no array for it.
    private var goneCallback: ((String) -> Void)?
    private var moreGoneCallbacks: [(String) -> Void] = []

    public init(request: Request, runtime: ServerRuntime, environment: ExchangeEnvironment, writer: any ResponseWriter) {
        self.request = request
        self.runtime = runtime
        self.environment = environment
        self.writer = writer
    }

    /// Builds the request for `head` (id, trace, body) and starts its exchange: the limits are
    /// checked, the observers told, and the responder called.
    public static func start(
        head: RequestHead, body: RequestBody, connection: ConnectionInfo, runtime: ServerRuntime,
        environment: ExchangeEnvironment, writer: any ResponseWriter
    ) -> HTTPExchange {
        let trace = runtime.tracing?.begin(head.fields, connection: connection)
        let services = environment.services
        let request = Request(
            head: head, id: services.requestID(from: head.fields), connection: connection,
            startedAt: environment.clock?.deadline ?? .now(), trace: trace, body: body
        )
        let exchange = HTTPExchange(request: request, runtime: runtime, environment: environment, writer: writer)
        services.requestStarted()
        for observer in runtime.observers { observer.requestStarted(request) }
        return exchange
    }

    /// Routes the request and calls the responder, unless the request is refused first (a
    /// declared body over the route's limit gets 413).
    public func respond() {
        let (answer, route) = runtime.respond(to: request, exchange: self)
        self.route = route
        switch answer {
        case .immediate(let response):
            send(response)
        case .eventually(let future):
            future.hop(to: eventLoop).whenComplete { result in self.answered(result) }
        case .slot(let slot):
            slot.whenAnswered { [self] result in answered(result) }
        }
    }

    private func answered(_ result: Result<Response, any Error>) {
        switch result {
        case .success(let response): send(response)
        case .failure(let error): responderFailed(error)
        }
    }

    /// A responder's failure: a body error answers with its own status (it usually has been
    /// answered already); a responder that gave up after the client closed its side ends the
    /// request as 499; anything else is a 500.
    private func responderFailed(_ error: any Error) {
        guard !responseStarted, !finished, goneReason == nil else { return }
        if let bodyError = error as? RequestBodyError {
            guard bodyError != .clientGone else { return abandon("client went away while sending the request body") }
            send(.text(bodyError.status, "\(bodyError.status.code) \(bodyError.status.reasonPhrase): \(bodyError)\n"))
            return
        }
        if inputClosed { return abandon("client closed the connection") }
        runtime.logger.error("responder failed", metadata: ["request.id": "\(request.id)", "error": "\(error)"])
        send(.text(.internalServerError, "500 Internal Server Error\n"))
    }

    /// Ends the request without an answer (499) and cuts the connection or stream.
    private func abandon(_ reason: String) {
        goneReason = reason
        status = HTTPResponseStatus(statusCode: 499)
        finish(error: reason)
    }

    // MARK: - Sending

    /// Sends `response`; a second answer to the same request, or one after the client left, is
    /// dropped.
    public func send(_ response: Response) {
        guard !responseStarted, !finished, goneReason == nil, let writer else { return }
        if let upgrade = response.upgrade, !request.asksToSwitch(to: upgrade.protocolName) {
            // A switch the client did not ask for cannot be sent (RFC 9110 §7.8, RFC 8441 §4):
            // the responder made a mistake.
            return refuseUpgrade(upgrade, "the request did not ask for it")
        }
        responseStarted = true
        status = response.status
        if let upgrade = response.upgrade {
            annotations[UpgradeAnnotation.self] = upgrade.protocolName
            writer.writeUpgrade(response, upgrade: upgrade, for: self)
            return
        }
        let sendBody = response.statusAllowsBody && !request.isHead
        var whole = true
        if sendBody {
            switch response.body {
            case .empty, .buffer: break
            case .file: whole = writer.canSendFile
            case .parts: whole = writer.canSendFile
            case .stream: whole = false
            }
        }
        if whole {
            writer.writeWhole(response, sendBody: sendBody, for: self)
            bytesSent = sendBody ? response.body.length : 0
            finish(error: nil)
            return
        }
        writer.writeHead(response, for: self)
        let produced: EventLoopFuture<Void>
        switch response.body {
        case .stream(let body):
            produced = body.produce(eventLoop) { piece in self.writePiece(piece) }
        case .file(let slice):
            produced = writeParts([.file(slice)])
        case .parts(let parts):
            produced = writeParts(parts)
        case .empty, .buffer:
            produced = eventLoop.makeSucceededVoidFuture()
        }
        let declared = response.body.declaredLength
        let trailers: (@Sendable () -> HTTPHeaders?)?
        if case .stream(let body) = response.body { trailers = body.trailers } else { trailers = nil }
        produced.flatMap { () -> EventLoopFuture<Void> in
            guard let writer = self.writer, self.goneReason == nil else {
                return self.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
            }
            if let declared, declared != self.bytesSent {
                // The client was promised `declared` bytes: a body of any other length must not
                // look whole (the writer closes the connection or resets the stream).
                return self.eventLoop.makeFailedFuture(DeclaredLengthMismatch(declared: declared, sent: self.bytesSent))
            }
            return writer.writeBodyEnd(trailers: trailers?().flatMap(Self.permittedTrailers), for: self)
        }.whenComplete { result in
            switch result {
            case .success: self.finish(error: nil)
            case .failure(let error): self.finish(error: "\(error)")
            }
        }
    }

    /// One piece of a produced body (a stream's write): fails once the client has gone, which is
    /// how producers learn to stop.
    private func writePiece(_ piece: ByteBuffer) -> EventLoopFuture<Void> {
        guard let writer, goneReason == nil, !finished else { return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        guard piece.readableBytes > 0 else { return eventLoop.makeSucceededVoidFuture() }
        bytesSent += piece.readableBytes
        return writer.writeBodyPart(piece, for: self)
    }

    /// Parts written in order; files read in chunks off the event loop, each chunk written before
    /// the next is read, so a slow reader holds no whole file here.
    private func writeParts(_ parts: [ResponseBodyPart]) -> EventLoopFuture<Void> {
        var future = eventLoop.makeSucceededVoidFuture()
        for part in parts {
            future = future.flatMap {
                switch part {
                case .buffer(let b):
                    return self.writePiece(b)
                case .file(let slice):
                    return self.services.fileReader.stream(slice, eventLoop: self.eventLoop, allocator: self.allocator) {
                        self.writePiece($0)
                    }
                }
            }
        }
        return future
    }

    // MARK: - Failures

    /// A switch that cannot happen (not asked for, or the connection cannot switch now) is a 500.
    func refuseUpgrade(_ upgrade: ProtocolUpgrade, _ why: String) {
        runtime.logger.error(
            "responder answered with an upgrade that cannot be sent",
            metadata: ["request.id": "\(request.id)", "upgrade": "\(upgrade.protocolName)", "reason": "\(why)"]
        )
        annotations[UpgradeAnnotation.self] = nil
        responseStarted = false
        send(.text(.internalServerError, "500 Internal Server Error\n"))
    }

    /// The request body failed (too large, stalled, malformed). Before the response this is the
    /// answer (413, 408, 400); after it the response is cut (the writer closes or resets).
    public func bodyFailed(_ error: RequestBodyError) {
        defer { request.body.fail(error) }  // after the answer: a reader failing must not answer first
        guard !finished else { return }
        if !responseStarted {
            let status = error.status
            send(.text(status, "\(status.code) \(status.reasonPhrase): \(error)\n"))
        } else {
            finish(error: "\(error)")
        }
    }

    /// The client closed its side of an HTTP/1.1 connection while the response is pending. That
    /// may be a half-close (it still reads, and is answered) or a client that gave up: the
    /// client-gone signal fires so a responder that waits on others (the proxy) can abandon its
    /// work, which then ends the request as 499; one that answers anyway is sent.
    public func clientClosedInput() {
        guard !inputClosed, goneReason == nil, !finished else { return }
        inputClosed = true
        fireGoneCallbacks("client closed the connection")
    }

    /// The connection closed or the stream was reset: the client-gone signal fires, a reader of
    /// the body gets a failure, and the record ends with 499 unless a response had begun.
    public func clientWentAway(_ reason: String) {
        guard goneReason == nil else { return }
        goneReason = reason
        request.body.fail(.clientGone)
        fireGoneCallbacks(reason)
        if !finished {
            if !responseStarted { status = HTTPResponseStatus(statusCode: 499) }
            finish(error: reason)
        }
    }

    func whenClientGone(_ callback: @escaping (String) -> Void) {
        if let goneReason {
            callback(goneReason)
        } else if inputClosed {
            callback("client closed the connection")
        } else if !finished {
            if goneCallback == nil { goneCallback = callback } else { moreGoneCallbacks.append(callback) }
        }
    }

    private func fireGoneCallbacks(_ reason: String) {
        let first = goneCallback
        let more = moreGoneCallbacks
        goneCallback = nil
        moreGoneCallbacks = []
        first?(reason)
        for callback in more { callback(reason) }
    }

    // MARK: - The end

    /// Closes the exchange once: the record goes to the observers and the writer moves on. A body
    /// nobody finished reading is discarded from here on.
    public func finish(error: String?) {
        guard !finished else { return }
        finished = true
        goneCallback = nil
        moreGoneCallbacks = []
        services.requestFinished()
        if !runtime.observers.isEmpty {
            let record = RequestRecord(
                request: request, route: route, status: status, bodyBytesSent: bytesSent,
                bodyBytesReceived: request.body.receivedBytes, duration: (clock?.deadline ?? .now()) - request.startedAt,
                error: error, annotations: annotations
            )
            for observer in runtime.observers { observer.requestFinished(record) }
        }
        let writer = self.writer
        self.writer = nil
        if !request.body.isComplete { request.body.discard() }
        writer?.exchangeEnded(self, cleanly: error == nil)
    }
}

extension HTTPExchange {
    /// What may go in a trailer section, decided once for both protocols: no framing, routing or
    /// connection-specific fields and no pseudo-fields (RFC 9110 §6.5.1, RFC 9113 §8.1); nil when
    /// nothing is left.
    static func permittedTrailers(_ fields: HTTPHeaders) -> HTTPHeaders? {
        var kept = HTTPHeaders()
        for (name, value) in fields {
            let lower = name.lowercased()
            switch lower {
            case "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "upgrade", "te", "trailer",
                "host":
                continue
            default:
                if lower.hasPrefix(":") { continue }
                kept.add(name: name, value: value)
            }
        }
        return kept.isEmpty ? nil : kept
    }
}

/// A streamed body that ended at another length than it declared.
struct DeclaredLengthMismatch: Error, CustomStringConvertible {
    var declared: Int
    var sent: Int
    var description: String { "body ended after \(sent) of its declared \(declared) bytes" }
}
