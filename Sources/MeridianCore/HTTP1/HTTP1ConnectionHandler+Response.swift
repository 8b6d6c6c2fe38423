internal import Logging
public import NIOCore
public import NIOHTTP1
internal import NIOPosix

/// Writing a response: the head and small bodies in one buffer, sendfile under TCP_CORK, or file
/// chunks read off the loop one at a time.
extension HTTP1ConnectionHandler: ResponseWriter {
    public var canSendFile: Bool { connectionInfo.canSendFile }

    /// The head of `response` for the request in flight: status line, the common headers, the
    /// framing (Content-Length, chunked, or read-to-close on HTTP/1.0) and the connection token.
    private func head(
        _ response: Response, _ c: InFlight, contentLength: Int?, chunked: Bool, bodyCapacity: Int, context: ChannelHandlerContext
    ) -> ByteBuffer {
        if keepAlive.isDraining || keepAlive.isClosing || c.bodyBroken || c.body.hasFailed { c.decision = .close }
        var head = allocator.buffer(capacity: 256 + bodyCapacity)
        if c.expectsContinue && !c.body.isComplete {
            c.expectsContinue = false
            if response.status.code < 400, case .keepAlive = c.decision {
                // Answered without reading the body: as nginx does, `100 Continue` first, and the
                // body is read and discarded so the connection stays usable.
                head.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
            } else {
                // Refused: the client need not send the body at all; the connection cannot be
                // reused, as it may send it anyway (RFC 9110 §10.1.1).
                c.decision = .close
            }
        }
        let token: HTTP1ResponseHead.ConnectionToken
        switch c.decision {
        case .close: token = .close
        case .keepAlive(let announce): token = announce ? .keepAlive : .none
        }
        let extra = c.exchange.extraHeaders
        if let encoded = response.encodedFields, extra.isEmpty {
            // Already lines (a proxied head): copied as they are.
            HTTP1ResponseHead.write(
                into: &head, status: response.status, headers: [:], encodedFields: encoded, contentLength: contentLength,
                connection: token, serverHeader: c.exchange.runtime.serverHeader, requestID: c.exchange.request.id, chunked: chunked,
                date: c.exchange.date
            )
            return head
        }
        var headers = response.headers
        for (name, value) in extra { headers.replaceOrAdd(name: name, value: value) }
        HTTP1ResponseHead.write(
            into: &head, status: response.status, headers: headers, contentLength: contentLength,
            connection: token, serverHeader: c.exchange.runtime.serverHeader, requestID: c.exchange.request.id, chunked: chunked,
            date: c.exchange.date
        )
        return head
    }

    private func inFlight(_ exchange: HTTPExchange) -> InFlight? {
        guard let c = current, c.exchange === exchange, context != nil, !closed else { return nil }
        return c
    }

    public func writeWhole(_ response: Response, sendBody: Bool, for exchange: HTTPExchange) {
        guard let c = inFlight(exchange), let context else { return }
        var contentLength: Int? = response.statusAllowsBody ? response.body.length : nil
        var chunked = false
        if response.body.isStream {
            // Only for HEAD: the head a GET would have had.
            contentLength = response.statusAllowsBody ? response.body.declaredLength : nil
            chunked = contentLength == nil && response.statusAllowsBody && c.exchange.request.version.minor >= 1
        }
        let inline = sendBody ? min(response.body.length, 16384) : 0
        var head = head(response, c, contentLength: contentLength, chunked: chunked, bodyCapacity: inline, context: context)
        guard sendBody else {
            emit(head, context: context)
            return
        }
        switch response.body {
        case .empty, .stream:
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
            cork(true, context: context)
            emit(head, context: context)
            emitFile(slice, context: context)
            cork(false, context: context)
        case .parts(let parts):
            emit(head, context: context)
            for part in parts {
                switch part {
                case .buffer(let b): emit(b, context: context)
                case .file(let s): emitFile(s, context: context)
                }
            }
        }
    }

    public func writeHead(_ response: Response, for exchange: HTTPExchange) {
        guard let c = inFlight(exchange), let context else { return }
        var contentLength: Int? = response.body.length
        if response.body.isStream {
            // Unknown length: chunked on HTTP/1.1; HTTP/1.0 reads to the close.
            contentLength = response.body.declaredLength
            if contentLength != nil {
                // Declared by the producer (a proxied Content-Length): sent as is.
            } else if c.exchange.request.version.minor >= 1 {
                c.chunked = true
            } else {
                c.decision = .close
            }
        }
        emit(head(response, c, contentLength: contentLength, chunked: c.chunked, bodyCapacity: 0, context: context), context: context)
        flushNow(context: context)
    }

    public func writeBodyPart(_ piece: ByteBuffer, for exchange: HTTPExchange) -> EventLoopFuture<Void> {
        guard let c = inFlight(exchange), let context else { return exchange.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        guard c.chunked else { return context.writeAndFlush(wrapOutboundOut(.byteBuffer(piece))) }
        var framed = allocator.buffer(capacity: piece.readableBytes + 12)
        framed.writeString(String(piece.readableBytes, radix: 16))
        framed.writeStaticString("\r\n")
        framed.writeImmutableBuffer(piece)
        framed.writeStaticString("\r\n")
        return context.writeAndFlush(wrapOutboundOut(.byteBuffer(framed)))
    }

    public func writeBodyEnd(trailers: HTTPHeaders?, for exchange: HTTPExchange) -> EventLoopFuture<Void> {
        guard let c = inFlight(exchange), let context else { return exchange.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        guard c.chunked else { return context.eventLoop.makeSucceededVoidFuture() }
        var last = allocator.buffer(capacity: 5)
        last.writeStaticString("0\r\n")
        if let trailers { HTTP1ResponseHead.writeFields(trailers, into: &last) }
        last.writeStaticString("\r\n")
        return context.writeAndFlush(wrapOutboundOut(.byteBuffer(last)))
    }

    /// The response is queued (or cut short): close, or move on to the next request once the
    /// body has been read (a body nobody read is being discarded meanwhile).
    public func exchangeEnded(_ exchange: HTTPExchange, cleanly: Bool) {
        guard let c = current, c.exchange === exchange, !c.upgraded, let context else { return }
        c.responseComplete = true
        guard !closed else { return }
        guard cleanly else {
            // A body cut short: only the close tells the client it is not whole.
            closed = true
            context.flush()
            context.close(promise: nil)
            return
        }
        if case .close = c.decision {
            closeAfterFlush(context: context)
            return
        }
        if c.bodyBroken || keepAlive.isClosing {
            closeAfterFlush(context: context)
            return
        }
        if !inRead { flushSoon(context: context) }
        if c.bodyComplete { requestDone(context: context) }
    }

    /// TCP_CORK around a head and its sendfile body, as nginx's `tcp_nopush` does: the head leaves in
    /// the same segment as the first file bytes, and every segment of the body is full-sized. The
    /// uncork is queued as a write so it happens once the file has been handed to the kernel.
    func cork(_ on: Bool, context: ChannelHandlerContext) {
        #if os(Linux)
        guard let options = context.channel.syncOptions else { return }
        let option = ChannelOptions.Types.SocketOption(level: IPPROTO_TCP, name: TCP_CORK)
        if on {
            try? options.setOption(option, value: 1)
        } else {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.write(wrapOutboundOut(.byteBuffer(allocator.buffer(capacity: 0)))).whenComplete { _ in
                try? loopBound.value.channel.syncOptions?.setOption(option, value: 0)
            }
        }
        #endif
    }

    func emit(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
        needsFlush = true
    }

    func emitFile(_ slice: FileSlice, context: ChannelHandlerContext) {
        let region = FileRegion(fileHandle: slice.handle, readerIndex: slice.offset, endIndex: slice.offset + slice.length)
        let owner = slice.owner
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in withExtendedLifetime(owner) {} }
        context.write(wrapOutboundOut(.fileRegion(region)), promise: promise)
        needsFlush = true
    }
}
