internal import Logging
public import NIOCore
public import NIOHTTP1
internal import NIOHTTP2

/// Serves the one request of an HTTP/2 stream. Sits behind `HTTP2FramePayloadToHTTP1ServerCodec`,
/// so it sees the same request parts as HTTP/1.1 and answers through the same runtime: routes,
/// actions and observers do not know which protocol carried the request.
///
/// File bodies are read in chunks and each chunk is written before the next is read; a write
/// completes only when HTTP/2 flow control has let it go, so a slow reader never makes the server
/// hold more than one chunk of a file per stream.
public final class HTTP2StreamHandler: ChannelInboundHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias OutboundOut = HTTPServerResponsePart

    private let runtimeBox: RuntimeBox
    private let services: ConnectionServices
    private let listener: ListenerContext
    private var request: Request?
    private var runtime: ServerRuntime?
    private var route = ""
    private var bodyBytesReceived = 0
    private var responded = false
    private var finished = false

    public init(runtimeBox: RuntimeBox, services: ConnectionServices, listener: ListenerContext) {
        self.runtimeBox = runtimeBox
        self.services = services
        self.listener = listener
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            start(head, context: context)
        case .body(let b):
            bodyBytesReceived += b.readableBytes
        case .end:
            break
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if let request, !finished {
            finish(request, status: HTTPResponseStatus(statusCode: 499), bytes: 0, error: "stream closed before the response was sent")
        }
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Stream errors (bad pseudo-headers, content-length mismatch) are answered with RST_STREAM
        // by NIOHTTP2; nothing more to say on this stream.
        context.close(promise: nil)
    }

    private func start(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let runtime = runtimeBox.current
        self.runtime = runtime
        let parent = context.channel.parent
        var info = ConnectionInfo(
            remoteAddress: parent?.remoteAddress, localAddress: parent?.localAddress, scheme: listener.scheme,
            protocolVersion: "2", canSendFile: false
        )
        info.canSendFile = false
        // HTTP/2 carries the authority in :authority, which the codec turns into Host.
        let request = Request(head: head, id: services.requestID(from: head.headers), connection: info)
        self.request = request
        services.requestStarted()
        for observer in runtime.observers { observer.requestStarted(request) }
        let (answer, route) = runtime.respond(to: request, on: context.eventLoop, allocator: context.channel.allocator)
        self.route = route
        switch answer {
        case .immediate(let response):
            write(response, context: context)
        case .eventually(let future):
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            future.hop(to: context.eventLoop).whenComplete { result in
                let (handler, context) = loopBound.value
                switch result {
                case .success(let response): handler.write(response, context: context)
                case .failure(let error):
                    runtime.logger.error("responder failed", metadata: ["request.id": "\(request.id)", "error": "\(error)"])
                    handler.write(.text(.internalServerError, "500 Internal Server Error\n"), context: context)
                }
            }
        }
    }

    private func write(_ response: Response, context: ChannelHandlerContext) {
        guard !responded, let request, let runtime else { return }
        responded = true
        var headers = response.headers
        for name in ["connection", "transfer-encoding", "keep-alive", "upgrade", "proxy-connection", "content-length"] {
            headers.remove(name: name)
        }
        headers.add(name: "date", value: DateCache.current.value)
        if !runtime.serverHeader.isEmpty { headers.add(name: "server", value: runtime.serverHeader) }
        headers.add(name: "x-request-id", value: request.id)
        for (name, value) in listener.extraHeaders { headers.replaceOrAdd(name: name, value: value) }
        let sendBody = response.statusAllowsBody && !request.isHead
        if response.statusAllowsBody { headers.add(name: "content-length", value: String(response.body.length)) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http2, status: response.status, headers: headers))), promise: nil)

        let parts: [ResponseBodyPart]
        switch sendBody ? response.body : .empty {
        case .empty: parts = []
        case .buffer(let b): parts = [.buffer(b)]
        case .file(let f): parts = [.file(f)]
        case .parts(let p): parts = p
        }
        let total = sendBody ? response.body.length : 0
        if parts.allSatisfy({ if case .buffer = $0 { return true } else { return false } }) {
            for case .buffer(let b) in parts { context.write(wrapOutboundOut(.body(.byteBuffer(b))), promise: nil) }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            finish(request, status: response.status, bytes: total, error: nil)
            return
        }
        context.flush()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        var future = context.eventLoop.makeSucceededVoidFuture()
        for part in parts {
            future = future.flatMap {
                let (handler, context) = loopBound.value
                switch part {
                case .buffer(let b):
                    return context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(b))))
                case .file(let slice):
                    return handler.services.fileReader.stream(slice, eventLoop: context.eventLoop, allocator: context.channel.allocator) { chunk in
                        let (handler, context) = loopBound.value
                        return context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(chunk))))
                    }
                }
            }
        }
        future.flatMap {
            let (handler, context) = loopBound.value
            return context.writeAndFlush(handler.wrapOutboundOut(.end(nil)))
        }.whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success:
                handler.finish(request, status: response.status, bytes: total, error: nil)
            case .failure(let error):
                handler.finish(request, status: response.status, bytes: 0, error: "\(error)")
                context.close(promise: nil)
            }
        }
    }

    private func finish(_ request: Request, status: HTTPResponseStatus, bytes: Int, error: String?) {
        guard !finished else { return }
        finished = true
        services.requestFinished()
        guard let runtime, !runtime.observers.isEmpty else { return }
        let record = RequestRecord(
            request: request, route: route, status: status, bodyBytesSent: bytes, bodyBytesReceived: bodyBytesReceived,
            duration: NIODeadline.now() - request.startedAt, error: error
        )
        for observer in runtime.observers { observer.requestFinished(record) }
    }
}
