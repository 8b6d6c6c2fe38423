internal import Logging
internal import MeridianConfig
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix

/// Writing a response: the head and small bodies in one buffer, sendfile under TCP_CORK, or file
/// chunks read off the loop one at a time.
extension HTTP1ConnectionHandler {
    func writeResponse(_ response: Response, context: ChannelHandlerContext) {
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
        var contentLength: Int? = response.statusAllowsBody ? response.body.length : nil
        var chunked = false
        if response.body.isStream {
            // Unknown length: chunked on HTTP/1.1; HTTP/1.0 reads to the close.
            contentLength = nil
            if c.request.version.minor >= 1 {
                chunked = response.statusAllowsBody
            } else {
                c.decision = .close
            }
        }
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
            connection: token, serverHeader: c.runtime.serverHeader, requestID: c.request.id, chunked: chunked
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
        case .stream(let body):
            emit(head, context: context)
            streamBody(body, chunked: c.request.version.minor >= 1, status: response.status, context: context)
            return
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
    func cork(_ on: Bool, context: ChannelHandlerContext) {
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

    /// A produced body: each piece is written (chunk-framed on HTTP/1.1) and flushed before the
    /// producer's next write completes.
    func streamBody(_ body: BodyStream, chunked: Bool, status: HTTPResponseStatus, context: ChannelHandlerContext) {
        flushNow(context: context)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let sent = NIOLoopBoundBox(0, eventLoop: context.eventLoop)
        let write: BodyStream.Write = { piece in
            let (handler, context) = loopBound.value
            guard !handler.closed else { return context.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
            guard piece.readableBytes > 0 else { return context.eventLoop.makeSucceededVoidFuture() }
            sent.value += piece.readableBytes
            guard chunked else { return context.writeAndFlush(handler.wrapOutboundOut(.byteBuffer(piece))) }
            var framed = context.channel.allocator.buffer(capacity: piece.readableBytes + 12)
            framed.writeString(String(piece.readableBytes, radix: 16))
            framed.writeStaticString("\r\n")
            framed.writeImmutableBuffer(piece)
            framed.writeStaticString("\r\n")
            return context.writeAndFlush(handler.wrapOutboundOut(.byteBuffer(framed)))
        }
        body.produce(context.eventLoop, write).flatMap { () -> EventLoopFuture<Void> in
            let (handler, context) = loopBound.value
            guard chunked else { return context.eventLoop.makeSucceededVoidFuture() }
            guard !handler.closed else { return context.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
            var last = context.channel.allocator.buffer(capacity: 5)
            last.writeStaticString("0\r\n\r\n")
            return context.writeAndFlush(handler.wrapOutboundOut(.byteBuffer(last)))
        }.whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success:
                handler.responseQueued(status: status, bytesSent: sent.value, context: context)
            case .failure(let error):
                if let c = handler.current {
                    handler.finishRecord(c, status: status, bytesSent: sent.value, error: "\(error)")
                    handler.current?.responseComplete = true
                }
                context.close(promise: nil)
            }
        }
    }

    /// Bodies that may not use sendfile (TLS, or `sendfile: false`) are read in chunks off the event
    /// loop; each chunk is written before the next is read, so a slow reader holds no whole file here.
    func streamParts(_ parts: [ResponseBodyPart], status: HTTPResponseStatus, total: Int, context: ChannelHandlerContext) {
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
}
