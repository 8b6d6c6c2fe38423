internal import Logging
public import NIOCore
internal import NIOHPACK
internal import NIOHTTP1
public import NIOHTTP2

/// Serves every stream of one HTTP/2 connection from frames, on the connection's channel.
///
/// swift-nio-http2 can give each stream its own child channel and pipeline; profiling showed that
/// machinery (channel set-up, activation, per-stream codec, pending read/write queues) costing more
/// than half of a small request's CPU. Here a stream is a small object in a dictionary: HEADERS
/// become the same `HTTPRequestHead` HTTP/1.1 produces and go through the same runtime; responses
/// go out as HEADERS and DATA frames, which `NIOHTTP2Handler` sends within the flow-control windows.
/// `NIOHTTP2ServerConnectionManagementHandler`, in front of this handler, sees the stream lifecycle
/// events `NIOHTTP2Handler` emits and keeps handling idle timeout, keep-alive pings and the
/// graceful GOAWAY.
public final class HTTP2ConnectionHandler: ChannelDuplexHandler {
    public typealias InboundIn = HTTP2Frame
    public typealias OutboundIn = HTTP2Frame
    public typealias OutboundOut = HTTP2Frame

    final class Stream {
        let id: HTTP2StreamID
        var request: Request?
        var runtime: ServerRuntime?
        var route = ""
        var bodyBytesReceived = 0
        var responded = false
        var finished = false
        /// The client sent END_STREAM.
        var requestEnded = false
        /// NIOHTTP2 closed the stream (it is no longer in `streams`).
        var closed = false
        /// While a response body is on its way: when a chunk last went out, or when the whole
        /// response was handed to NIOHTTP2 (it may wait there for flow-control window).
        var streamingSince: NIODeadline?
        /// The whole response is with NIOHTTP2: its progress shows only as the connection's.
        var handedOver = false
        /// While the request body is still arriving: when its last DATA frame came (or HEADERS).
        var bodySince: NIODeadline?
        init(id: HTTP2StreamID) { self.id = id }
    }

    private let runtimeBox: RuntimeBox
    private let services: ConnectionServices
    private let listener: ListenerContext
    private var streams: [HTTP2StreamID: Stream] = [:]
    private var connectionInfo = ConnectionInfo(remoteAddress: nil, localAddress: nil, protocolVersion: "2")
    private var inRead = false
    private var needsFlush = false
    /// Streams owed stream-level WINDOW_UPDATEs at the end of this read.
    private var owedCredit: [HTTP2StreamID: Int] = [:]
    /// The connection's receive window is kept between half and all of this.
    static let connectionWindowTarget = 1 << 20

    public init(runtimeBox: RuntimeBox, services: ConnectionServices, listener: ListenerContext) {
        self.runtimeBox = runtimeBox
        self.services = services
        self.listener = listener
        self.connectionInfo.scheme = listener.scheme
        self.connectionInfo.listener = listener.name
    }

    private var context: ChannelHandlerContext?

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
        connectionInfo.remoteAddress = context.channel.remoteAddress
        connectionInfo.localAddress = context.channel.localAddress
        if connectionInfo.scheme == "https" { connectionInfo.tlsVersion = TLSErrorHandler.negotiatedVersion(context.pipeline) }
        counted = true
        services.connectionOpened(http2: true)
    }

    /// Counted in the open-connection gauge until the connection closes.
    private var counted = false

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        inRead = true
        switch frame.payload {
        case .headers(let headers):
            if let stream = streams[frame.streamID], stream.request != nil {
                // Trailers: nothing here reads them, but END_STREAM on them ends the body.
                if headers.endStream {
                    stream.requestEnded = true
                    stream.bodySince = nil
                }
                break
            }
            if let problem = Self.malformation(headers.headers) {
                // RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR.
                runtimeBox.current.logger.debug("malformed HTTP/2 request", metadata: ["stream": "\(frame.streamID)", "reason": "\(problem)"])
                context.write(wrapOutboundOut(HTTP2Frame(streamID: frame.streamID, payload: .rstStream(.protocolError))), promise: nil)
                needsFlush = true
                break
            }
            let stream = streams[frame.streamID] ?? Stream(id: frame.streamID)
            streams[frame.streamID] = stream
            stream.requestEnded = headers.endStream
            if !headers.endStream {
                stream.bodySince = .now()
                armStallTimer(context: context)
            }
            start(stream, headers.headers, context: context)
        case .data(let data):
            // Without stream channels nobody else returns flow-control credit (RFC 9113 §6.9). No
            // action reads request bodies yet: they are discarded as they arrive, and the credit
            // goes back at once, up to the body limit; past it the stream is reset (§8.1).
            let credit = data.data.readableBytes + (data.paddingBytes.map { $0 + 1 } ?? 0)
            if let stream = streams[frame.streamID] {
                stream.bodyBytesReceived += data.data.readableBytes
                stream.bodySince = data.endStream ? nil : .now()
                if data.endStream {
                    stream.requestEnded = true
                } else if stream.bodyBytesReceived > (stream.runtime?.limits.maxBodyBytes ?? 0) {
                    context.write(wrapOutboundOut(HTTP2Frame(streamID: frame.streamID, payload: .rstStream(stream.responded ? .noError : .cancel))), promise: nil)
                    needsFlush = true
                } else if credit > 0 {
                    owedCredit[frame.streamID, default: 0] += credit
                }
            }
        default:
            break
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        inRead = false
        // Stream credit once per read, not once per DATA frame (a client sending 1-byte frames
        // gets one WINDOW_UPDATE per read, not per frame).
        for (id, credit) in owedCredit where streams[id].map({ !$0.requestEnded }) ?? false {
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: credit))), promise: nil)
            needsFlush = true
        }
        owedCredit.removeAll(keepingCapacity: true)
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    /// Stream and window events reach this handler as calls from `HTTP2StreamEventFilter` (see
    /// there); what the connection manager passes on ends here.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {}

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
        if let request = stream.request, !stream.finished {
            finish(stream, request, status: HTTPResponseStatus(statusCode: 499), bytes: 0, error: "stream reset before the response was sent")
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            services.connectionClosed(http2: true)
        }
        for (_, stream) in streams {
            stream.closed = true
            if let request = stream.request, !stream.finished {
                finish(stream, request, status: HTTPResponseStatus(statusCode: 499), bytes: 0, error: "connection closed before the response was sent")
            }
        }
        streams.removeAll()
        context.fireChannelInactive()
    }

    // MARK: - Requests

    /// What makes a request header block malformed (RFC 9113 §8.2, §8.3.1), or nil. NIOHTTP2's own
    /// header validation is off because it also checks every header this server sends, which cost
    /// a tenth of a small request's CPU; inbound blocks are checked here in one pass instead.
    static func malformation(_ headers: HPACKHeaders) -> String? {
        var seenRegular = false
        var method = false, scheme = false, path = false, authority = false
        var isConnect = false
        for (name, value, _) in headers {
            let n = name.utf8
            guard !n.isEmpty else { return "empty field name" }
            if n.first == UInt8(ascii: ":") {
                if seenRegular { return "pseudo-header after a regular field" }
                if name == ":method" {
                    if method { return "duplicate :method" }
                    method = true
                    isConnect = value == "CONNECT"
                } else if name == ":scheme" {
                    if scheme { return "duplicate :scheme" }
                    scheme = true
                } else if name == ":path" {
                    if path { return "duplicate :path" }
                    if value.isEmpty { return "empty :path" }
                    path = true
                } else if name == ":authority" {
                    if authority { return "duplicate :authority" }
                    authority = true
                } else {
                    return "unknown pseudo-header \(name)"
                }
            } else {
                seenRegular = true
                for b in n where !HTTP1RequestParser.isTokenByte(b) || (b >= 0x41 && b <= 0x5A) {
                    return "invalid or upper-case field name"
                }
                if isConnectionSpecific(name) && !(n.count == 14 && name == "content-length") {
                    return "connection-specific field \(name)"
                }
                if n.count == 2 && name == "te" && value != "trailers" { return "te other than trailers" }
            }
            let v = value.utf8
            if let first = v.first, first == 0x20 || first == 0x09 { return "leading whitespace in a value" }
            if let last = v.last, last == 0x20 || last == 0x09 { return "trailing whitespace in a value" }
            for b in v where b == 0 || b == 0x0A || b == 0x0D { return "NUL, CR or LF in a value" }
        }
        if !method { return "missing :method" }
        if !isConnect && (!scheme || !path) { return "missing :scheme or :path" }
        return nil
    }

    /// RFC 9113 §8.3: pseudo-headers become the request line and Host; cookie crumbs are joined
    /// back (§8.2.3) so the rest of the server sees an HTTP/1.1-shaped request.
    static func requestHead(_ headers: HPACKHeaders) -> HTTPRequestHead {
        var method = "GET"
        var path = "/"
        var authority: String?
        var fields = HTTPHeaders()
        fields.reserveCapacity(headers.count + 1)
        var cookies: [String] = []
        for (name, value, _) in headers {
            let utf8 = name.utf8
            if utf8.first == UInt8(ascii: ":") {
                if name == ":method" {
                    method = value
                } else if name == ":path" {
                    path = value
                } else if name == ":authority" {
                    authority = value
                }
            } else if utf8.count == 6 && name == "cookie" {
                cookies.append(value)
            } else {
                fields.add(name: name, value: value)
            }
        }
        if let authority, !fields.contains(name: "host") { fields.add(name: "host", value: authority) }
        if !cookies.isEmpty { fields.add(name: "cookie", value: cookies.joined(separator: "; ")) }
        return HTTPRequestHead(version: .http2, method: HTTPMethod(rawValue: method), uri: path, headers: fields)
    }

    private func start(_ stream: Stream, _ headers: HPACKHeaders, context: ChannelHandlerContext) {
        let runtime = runtimeBox.current
        let head = Self.requestHead(headers)
        let trace = runtime.tracing?.begin(head, connection: connectionInfo)
        let request = Request(head: head, id: services.requestID(from: head.headers), connection: connectionInfo, trace: trace)
        stream.request = request
        stream.runtime = runtime
        services.requestStarted()
        for observer in runtime.observers { observer.requestStarted(request) }
        if head.method == .CONNECT {
            write(.text(.methodNotAllowed, "405 Method Not Allowed: CONNECT is not supported\n"), to: stream, context: context)
            return
        }
        if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > runtime.limits.maxBodyBytes {
            write(.text(.payloadTooLarge, "413 Payload Too Large: Content-Length \(length) exceeds \(runtime.limits.maxBodyBytes) bytes\n"), to: stream, context: context)
            return
        }
        let (answer, route) = runtime.respond(to: request, on: context.eventLoop, allocator: context.channel.allocator)
        stream.route = route
        switch answer {
        case .immediate(let response):
            write(response, to: stream, context: context)
        case .eventually(let future):
            let loopBound = NIOLoopBound((self, context, stream), eventLoop: context.eventLoop)
            future.hop(to: context.eventLoop).whenComplete { result in
                let (handler, context, stream) = loopBound.value
                switch result {
                case .success(let response):
                    handler.write(response, to: stream, context: context)
                case .failure(let error):
                    runtime.logger.error("responder failed", metadata: ["request.id": "\(request.id)", "error": "\(error)"])
                    handler.write(.text(.internalServerError, "500 Internal Server Error\n"), to: stream, context: context)
                }
                handler.flushIfNeeded(context: context)
            }
        }
    }

    /// Response headers as HPACK: names lower-cased (RFC 9113 §8.2.1), connection-specific fields
    /// dropped (§8.2.2), and the values unique to each response kept out of the dynamic table.
    private func responseHeaders(_ response: Response, request: Request, runtime: ServerRuntime) -> HPACKHeaders {
        var out = HPACKHeaders()
        out.reserveCapacity(response.headers.count + 5)
        out.add(name: ":status", value: String(response.status.code))
        for (name, value) in response.headers {
            let lower = name.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? name.lowercased() : name
            if Self.isConnectionSpecific(lower) { continue }
            out.add(name: lower, value: value)
        }
        // Date changes once a second: indexed, it is one table entry a second instead of a Huffman
        // encoding per response. The request id is unique, so it never enters the table.
        out.add(name: "date", value: DateCache.current.value)
        if !runtime.serverHeader.isEmpty { out.add(name: "server", value: runtime.serverHeader) }
        out.add(name: "x-request-id", value: request.id, indexing: .nonIndexable)
        for (name, value) in listener.extraHeaders { out.replaceOrAdd(name: name.lowercased(), value: value) }
        if response.statusAllowsBody && !response.body.isStream { out.add(name: "content-length", value: String(response.body.length)) }
        return out
    }

    /// Fields HTTP/2 forbids (RFC 9113 §8.2.2) plus content-length, which is set here. Compared on
    /// bytes, length first: this runs for every response header.
    static func isConnectionSpecific(_ lower: String) -> Bool {
        let utf8 = lower.utf8
        switch utf8.count {
        case 7: return lower == "upgrade"
        case 10: return lower == "connection" || lower == "keep-alive"
        case 14: return lower == "content-length"
        case 16: return lower == "proxy-connection"
        case 17: return lower == "transfer-encoding"
        default: return false
        }
    }

    private func write(_ response: Response, to stream: Stream, context: ChannelHandlerContext) {
        guard !stream.responded, let request = stream.request, let runtime = stream.runtime else { return }
        guard !stream.closed else { return }  // reset meanwhile
        stream.responded = true
        let sendBody = response.statusAllowsBody && !request.isHead && (response.body.length > 0 || response.body.isStream)
        let headers = responseHeaders(response, request: request, runtime: runtime)
        let headersFrame = HTTP2Frame(streamID: stream.id, payload: .headers(.init(headers: headers, endStream: !sendBody)))
        needsFlush = true
        let total = sendBody ? response.body.length : 0
        guard sendBody else {
            context.write(wrapOutboundOut(headersFrame), promise: endOfResponsePromise(stream, context: context))
            finish(stream, request, status: response.status, bytes: 0, error: nil)
            handedOver(stream, context: context)
            return
        }
        context.write(wrapOutboundOut(headersFrame), promise: nil)
        switch response.body {
        case .buffer(let b):
            let last = HTTP2Frame(streamID: stream.id, payload: .data(.init(data: .byteBuffer(b), endStream: true)))
            context.write(wrapOutboundOut(last), promise: endOfResponsePromise(stream, context: context))
            finish(stream, request, status: response.status, bytes: total, error: nil)
            handedOver(stream, context: context)
            return
        case .empty:
            return
        case .file, .parts, .stream:
            break
        }
        var parts: [ResponseBodyPart] = []
        var produced: BodyStream?
        switch response.body {
        case .file(let f): parts = [.file(f)]
        case .parts(let p): parts = p
        case .stream(let s): produced = s
        default: break
        }
        flushIfNeeded(context: context, force: true)
        let id = stream.id
        let loopBound = NIOLoopBound((self, context, stream), eventLoop: context.eventLoop)
        stream.streamingSince = .now()
        armStallTimer(context: context)
        @Sendable func send(_ buffer: ByteBuffer) -> EventLoopFuture<Void> {
            let (handler, context, _) = loopBound.value
            return context.writeAndFlush(handler.wrapOutboundOut(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(buffer))))))
                .map { loopBound.value.2.streamingSince = .now() }
        }
        let sent = NIOLoopBoundBox(0, eventLoop: context.eventLoop)
        var future = context.eventLoop.makeSucceededVoidFuture()
        if let produced {
            future = produced.produce(context.eventLoop) { piece in
                guard piece.readableBytes > 0 else { return loopBound.value.1.eventLoop.makeSucceededVoidFuture() }
                sent.value += piece.readableBytes
                return send(piece)
            }
        }
        for part in parts {
            future = future.flatMap {
                switch part {
                case .buffer(let b):
                    return send(b)
                case .file(let slice):
                    let (handler, context, _) = loopBound.value
                    return handler.services.fileReader.stream(slice, eventLoop: context.eventLoop, allocator: context.channel.allocator) { send($0) }
                }
            }
        }
        future.flatMap {
            let (handler, context, stream) = loopBound.value
            let end = HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))
            let promise = handler.endOfResponsePromise(stream, context: context) ?? context.eventLoop.makePromise()
            context.writeAndFlush(handler.wrapOutboundOut(end), promise: promise)
            return promise.futureResult
        }.whenComplete { result in
            let (handler, _, stream) = loopBound.value
            stream.streamingSince = nil
            switch result {
            case .success: handler.finish(stream, request, status: response.status, bytes: total + sent.value, error: nil)
            case .failure(let error): handler.finish(stream, request, status: response.status, bytes: sent.value, error: "\(error)")
            }
        }
    }

    /// For the frame that ends a response sent before the request did: once that frame has gone
    /// out (a reset any earlier would discard response data still waiting for window), reset the
    /// stream with NO_ERROR so the client stops sending a body nobody reads (RFC 9113 §8.1).
    private func endOfResponsePromise(_ stream: Stream, context: ChannelHandlerContext) -> EventLoopPromise<Void>? {
        guard !stream.requestEnded else { return nil }
        let promise = context.eventLoop.makePromise(of: Void.self)
        let loopBound = NIOLoopBound((self, context, stream), eventLoop: context.eventLoop)
        promise.futureResult.whenSuccess {
            let (handler, context, stream) = loopBound.value
            guard !stream.requestEnded, !stream.closed else { return }
            context.writeAndFlush(handler.wrapOutboundOut(HTTP2Frame(streamID: stream.id, payload: .rstStream(.noError))), promise: nil)
        }
        return promise
    }

    // MARK: - Stalled streams

    private var stallTimer: Scheduled<Void>?

    /// A whole response went to NIOHTTP2, which sends it as flow control allows and closes the
    /// stream once its last frame is out (or resets it, see `endOfResponsePromise`). A stream still
    /// here after `timeouts.send` in which the connection sent no DATA is stuck behind a window
    /// the client never opens.
    private func handedOver(_ stream: Stream, context: ChannelHandlerContext) {
        guard !stream.closed else { return }
        stream.streamingSince = .now()
        stream.handedOver = true
        armStallTimer(context: context)
    }

    /// Bumped (by `HTTP2StreamEventFilter`) whenever the connection's outbound window shrinks:
    /// DATA went out. (Not when it grows: a client could send 1-byte connection WINDOW_UPDATEs
    /// to keep a stream it never lets through alive.) Counting costs nothing per frame; the stall
    /// timer compares it between ticks.
    private var outboundProgress = 0
    private var outboundProgressAtLastTick = 0

    func connectionSentData() { outboundProgress &+= 1 }

    /// Since when the socket has not taken our bytes (nil while it does).
    private var unwritableSince: NIODeadline?
    /// The channel's buffered outbound bytes at the last stall tick, while unwritable.
    private var bufferedAtLastTick: Int?

    /// Every "not writable" restarts the clock: when the socket drains, NIOHTTP2Handler first
    /// sends the frames it held back, which can make the channel unwritable again before the
    /// "writable" event reaches this handler (it then reads `isWritable` as false twice). Each
    /// such event is a transition, so bytes moved; a socket that takes nothing sends none.
    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            unwritableSince = nil
        } else {
            unwritableSince = .now()
            armStallTimer(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    /// Two clocks per stream and one per connection, checked by one timer per connection while
    /// any runs:
    /// - response: a body waits on each chunk until flow control lets it go; a client that never
    ///   opens its window would hold the stream (an open file, a chunk in memory) forever. No
    ///   progress for `timeouts.send` resets the stream with CANCEL, as HTTP/1.1 closes. A whole
    ///   response handed to NIOHTTP2 counts as progressing while the connection sends DATA
    ///   (NIOHTTP2 reports no per-stream progress short of an event per frame).
    /// - request body: DATA that stops coming for `timeouts.body_read` while the response is
    ///   still pending gets 408 (as HTTP/1.1 does), or CANCEL once the response has begun.
    /// - connection: a socket that takes nothing for `timeouts.send` (the client stopped reading)
    ///   closes the connection: NIOHTTP2 holds even RST_STREAM back while the channel is not
    ///   writable, so resetting streams would change nothing.
    private func armStallTimer(context: ChannelHandlerContext) {
        guard stallTimer == nil else { return }
        let timeouts = runtimeBox.current.timeouts
        let send = TimeAmount(timeouts.send), bodyRead = TimeAmount(timeouts.bodyRead)
        let period = TimeAmount.nanoseconds(max(100_000_000, min(send, bodyRead).nanoseconds / 4))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        stallTimer = context.eventLoop.scheduleTask(in: period) {
            let (handler, context) = loopBound.value
            handler.stallTimer = nil
            handler.resetStalledStreams(context: context, send: send, bodyRead: bodyRead)
        }
    }

    private func resetStalledStreams(context: ChannelHandlerContext, send: TimeAmount, bodyRead: TimeAmount) {
        guard self.context != nil else { return }
        let now = NIODeadline.now()
        if unwritableSince != nil {
            // Unwritable is not stuck: NIOHTTP2 can hand the channel far more than the high
            // watermark in one go (every waiting stream's DATA) and a slow reader drains it for
            // seconds without a writability change. Bytes leaving the channel's buffer between
            // two ticks are progress.
            let buffered = try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)
            if let buffered, let last = bufferedAtLastTick, buffered < last { unwritableSince = now }
            bufferedAtLastTick = buffered
        } else {
            bufferedAtLastTick = nil
        }
        if let since = unwritableSince {
            if now - since > send {
                services.timedOut("send")
                runtimeBox.current.logger.debug("closing an HTTP/2 connection whose client stopped reading", metadata: ["streams": "\(streams.count)"])
                context.close(promise: nil)
                return
            }
        }
        var running = unwritableSince != nil
        let connectionProgressed = outboundProgress != outboundProgressAtLastTick
        outboundProgressAtLastTick = outboundProgress
        for (id, stream) in streams {
            if let since = stream.bodySince, !stream.requestEnded {
                if now - since > bodyRead {
                    stream.bodySince = nil
                    services.timedOut("body_read")
                    if stream.responded {
                        stream.streamingSince = nil
                        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .rstStream(.cancel))), promise: nil)
                        needsFlush = true
                        continue
                    }
                    // The 408 is handed over like any response; its end resets the stream (NO_ERROR).
                    write(.text(.requestTimeout, "408 Request Timeout: the request body stopped arriving\n"), to: stream, context: context)
                } else {
                    running = true
                }
            }
            if stream.handedOver && connectionProgressed && stream.streamingSince != nil { stream.streamingSince = now }
            if let since = stream.streamingSince {
                if now - since > send {
                    stream.streamingSince = nil
                    services.timedOut("send")
                    context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .rstStream(.cancel))), promise: nil)
                    needsFlush = true
                } else {
                    running = true
                }
            }
        }
        flushIfNeeded(context: context, force: true)
        if running { armStallTimer(context: context) }
    }

    private func flushIfNeeded(context: ChannelHandlerContext, force: Bool = false) {
        guard needsFlush, force || !inRead else { return }
        needsFlush = false
        context.flush()
    }

    private func finish(_ stream: Stream, _ request: Request, status: HTTPResponseStatus, bytes: Int, error: String?) {
        guard !stream.finished else { return }
        stream.finished = true
        services.requestFinished()

        guard let runtime = stream.runtime, !runtime.observers.isEmpty else { return }
        let record = RequestRecord(
            request: request, route: stream.route, status: status, bodyBytesSent: bytes,
            bodyBytesReceived: stream.bodyBytesReceived, duration: NIODeadline.now() - request.startedAt, error: error
        )
        for observer in runtime.observers { observer.requestFinished(record) }
    }
}

/// Sits between `NIOHTTP2Handler` and the connection manager and passes on only the stream events
/// someone behind it acts on; each event costs a dynamic cast in every handler it passes.
/// - Without stream channels, `NIOHTTP2Handler` reports a stream closed by a stream error (say, a
///   malformed header block answered with RST_STREAM) although it never reported it created; the
///   manager counts open streams from these events and must only see closes of streams it saw
///   open.
/// - `NIOHTTP2Handler` emits one or two window events for every DATA frame sent or received and
///   for every stream closed. Nobody reads the stream-level ones; `HTTP2ConnectionHandler` acts on
///   the connection window only once it falls below half its target, and is called with its size
///   directly, as for stream closes; a shrinking connection outbound window (DATA sent) only
///   bumps its progress count. The connection manager behind sees created and closed
///   streams (its idle timer, the last stream id of its GOAWAY) and everything else.
final class HTTP2StreamEventFilter: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    private var open: Set<HTTP2StreamID> = []
    private var outboundWindow: Int?
    /// The handler behind the manager, set when the pipeline is built (no cycle: it does not
    /// refer back).
    var streams: HTTP2ConnectionHandler?

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let created as NIOHTTP2StreamCreatedEvent:
            open.insert(created.streamID)
        case let closed as StreamClosedEvent:
            guard open.remove(closed.streamID) != nil else { return }
            streams?.streamClosed(closed.streamID)
        case let window as NIOHTTP2WindowUpdatedEvent:
            guard window.streamID == .rootStream else { return }
            if let size = window.inboundWindowSize { streams?.connectionWindowChanged(size) }
            if let size = window.outboundWindowSize {
                if let last = outboundWindow, size < last { streams?.connectionSentData() }
                outboundWindow = size
            }
            return
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }
}
