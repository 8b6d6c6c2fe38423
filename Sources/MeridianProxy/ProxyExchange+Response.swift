internal import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// The response's way back: the head checked for a retry, then the body streamed to the client as
/// it arrives (server-sent events and gRPC are not held back), reading paused while more than
/// ``highWater`` bytes wait for the client.
extension ProxyExchange: UpstreamResponseDelegate {
    static let highWater = 256 * 1024
    static let lowWater = 64 * 1024

    func upstreamHead(_ head: HTTPResponseHead, facts: ResponseHeadFacts) {
        guard !finished, responseHead == nil else { return }
        let code = Int(head.status.code)
        if code == 101 { return switchingHead(head) }
        if code < 200 { return }  // 100 Continue and other interim answers are ours to give, not theirs
        let now = clock.deadline
        context.annotate(UpstreamResponseAnnotation.self, Self.milliseconds(from: headSentAt, to: now))
        headLatency = .nanoseconds((now - headSentAt).nanoseconds)
        lastStatus = head.status.code
        if code >= 500 {
            let decision = route.retryPolicy.decide(
                method: request.method.rawValue, failure: .status(code), requestSent: true, bodyReplayable: bodyReplayable,
                attempt: tried.count
            )
            if case .retry = decision {
                cancelTimers()
                record(.serverError)
                balancerFinished(error: nil)
                if let c = connection {
                    connection = nil
                    c.close()
                    loop.pools[c.endpoint].release(c)
                }
                failureCode = "status_\(code)"
                if retry(after: .status(code)) { return }
                // No budget: the 5xx itself cannot be passed on (its connection is gone).
                finish(with: Self.errorResponse(.badGateway, "retry budget exhausted"), code: "retry_budget_exhausted")
                return
            }
        }
        responseHead = head
        record(code >= 500 ? .serverError : .success)
        if let c = connection {
            if !facts.keepsAlive(head.version) || (hasBody && !body.ended) { c.reusable = false }
        }
        let length = facts.contentLength
        lastResponseActivity = now
        failureCode = nil
        // A small body of known length is gathered and sent with its head in one write (one syscall and one wake-up
        // of the client instead of two), as nginx's proxy buffers do. Streams (SSE, chunked, gRPC) and large bodies
        // go out as they arrive; not from an HTTP/2 upstream either (trailers may follow the body there). The
        // first-byte timer keeps running and guards the rest of this small body (usually in the same read as the
        // head): no second timer per request. Every way a gathered response ends goes through end(), which annotates
        // the record before the answer.
        let gathers =
            length.map { $0 <= Self.smallBody } == true && !request.isHead && connection?.isStream == false && code != 204
            && code != 304
        // A head the codec filtered goes as it is (its encoded lines, no HTTPHeaders) unless the route has response rules.
        let encoded = route.rewriter.responseRules.isEmpty ? facts.encodedFields : nil
        if gathers, let length {
            if let encoded {
                // The body goes after the encoded fields in their buffer (the codec sized it for the read that held
                // the head): one buffer for both, split in two slices when whole. Only the status is kept meanwhile
                // (a `Response` made here and copied into another was ~15 retains and releases per request).
                gatheredFields = encoded.readableBytes
                gathered = encoded
                gatheredResponse = Response(status: head.status)
            } else {
                gatheredFields = nil
                gathered = context.allocator.buffer(capacity: length)
                gatheredResponse = decodedResponse(head, facts)
            }
            if length == 0 {
                annotate()  // answered now; the upstream's end (same read) ends the exchange
                finishGathering()
            }
            return
        }
        var response = encoded.map { Response(status: head.status, encodedFields: $0) } ?? decodedResponse(head, facts)
        // A streamed (or empty) answer can complete the record before the upstream's end does: annotated now.
        annotate()
        armIdleTimer()
        if code == 204 || code == 304 {
            response.body = .empty
        } else {
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            response.body = .stream(
                BodyStream(length: length, trailers: { bound.value.responseTrailers }) { _, write in bound.value.attach(write) }
            )
        }
        answer(response)
    }

    /// The response with the upstream's fields as `HTTPHeaders`: the route's response rules apply to them, or the
    /// codec did not filter the head (a `Connection` naming fields, an HTTP/2 upstream).
    private func decodedResponse(_ head: HTTPResponseHead, _ facts: ResponseHeadFacts) -> Response {
        if let encoded = facts.encodedFields {
            return Response(status: head.status, headers: route.rewriter.responseHeaders(Response.decodeFields(encoded)))
        }
        let rules = !facts.filtered || !route.rewriter.responseRules.isEmpty
        return Response(status: head.status, headers: rules ? route.rewriter.responseHeaders(head.headers) : head.headers)
    }

    /// Bodies up to this size (with a Content-Length) are sent with their head in one write.
    static let smallBody = 64 * 1024

    /// The whole small body is here: the answer goes in one piece.
    func finishGathering() {
        // (Moved out with `take()`, not copied: a copy of the response and the buffer is a retain per field.)
        guard gatheredResponse != nil, let body = gathered.take(), var response = gatheredResponse.take() else { return }
        if let n = gatheredFields {
            let fields = body.getSlice(at: body.readerIndex, length: n)!
            let rest = body.getSlice(at: body.readerIndex + n, length: body.readableBytes - n)!
            answer(Response(status: response.status, encodedFields: fields, body: .buffer(rest)))
        } else {
            response.body = .buffer(body)
            answer(response)
        }
    }

    /// The request layer is ready for the body: pieces that came first go now.
    func attach(_ write: @escaping BodyStream.Write) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        if finished && !responseEnded {
            promise.fail(ChannelError.ioOnClosedChannel)
            return promise.futureResult
        }
        sink = write
        produced = promise
        let pieces = pendingPieces
        pendingPieces = []
        for piece in pieces { forward(piece) }
        if responseEnded {
            produced = nil
            promise.succeed(())
        }
        return promise.futureResult
    }

    func upstreamBody(_ bytes: ByteBuffer) {
        guard !finished || responseHead != nil else { return }
        if gathered != nil {
            // (Guarded by the first-byte timer, not the idle timer: no clock read per piece.)
            var bytes = bytes
            gathered!.writeBuffer(&bytes)
            return
        }
        lastResponseActivity = clock.deadline
        if sink != nil {
            forward(bytes)
        } else {
            pendingPieces.append(bytes)
            if pendingPieces.reduce(0, { $0 + $1.readableBytes }) > Self.highWater { connection?.setReading(false) }
        }
    }

    private func forward(_ bytes: ByteBuffer) {
        guard let sink else { return }
        let n = bytes.readableBytes
        unacknowledged += n
        if unacknowledged > Self.highWater { connection?.setReading(false) }
        sink(bytes).whenComplete { [self] result in
            unacknowledged -= n
            if case .success = result, unacknowledged <= Self.lowWater { connection?.setReading(true) }
        }
    }

    func upstreamEnd(trailers: HTTPHeaders?) {
        responseTrailers = trailers
        guard responseHead != nil else {
            // An end without a head cannot happen with the codecs (UpstreamHTTP1Codec, NIOHTTP2's); treat it as a reset.
            tryFailed(ProxyFailure(.reset, "the response ended before its head"))
            return
        }
        responseEnded = true
        cancelTimers()
        if let c = connection {
            connection = nil
            if hasBody && !body.ended { c.reusable = false }
            loop.pools[c.endpoint].release(c)
        }
        if gatheredResponse != nil {
            end()  // before the answer: answering may complete the record at once
            finishGathering()
            return
        }
        let done = pendingPieces.isEmpty ? produced : nil
        if done != nil { produced = nil }
        end()  // before the response completes (and its record is taken)
        done?.succeed(())
    }

    func upstreamFailed(_ failure: ProxyFailure) {
        guard responseHead != nil else {
            tryFailed(failure)
            return
        }
        abortResponse(failure)
    }

    /// The response broke after its head went to the client: the client's response is cut (the
    /// request layer closes the connection or resets the stream), never passed off as whole.
    func abortResponse(_ failure: ProxyFailure) {
        guard !finished || produced != nil else { return }
        failureCode = failure.code
        if gatheredResponse != nil {
            // The client has seen nothing yet: a small body cut short is a 502 (504 on a stall).
            gatheredResponse = nil
            gathered = nil
            if let c = connection {
                connection = nil
                c.close()
                loop.pools[c.endpoint].release(c)
            }
            context.logger.warning(
                "upstream response cut", metadata: ["request.id": "\(request.id)", "cluster": "\(route.cluster.name)", "reason": "\(failure)"]
            )
            finish(with: Self.errorResponse(failure.status, failure.code), code: failure.code)
            return
        }
        annotate()
        context.logger.warning(
            "upstream response cut", metadata: ["request.id": "\(request.id)", "cluster": "\(route.cluster.name)", "reason": "\(failure)"]
        )
        if let c = connection {
            connection = nil
            c.close()
            loop.pools[c.endpoint].release(c)
        }
        cancelTimers()
        if let produced {
            self.produced = nil
            produced.fail(failure)
        }
        end()
    }

    /// A timeout or the total deadline hit: before the head it is a 504, after it a cut response.
    func fail(_ failure: ProxyFailure) {
        guard !finished else { return }
        if responseHead == nil {
            if let c = connection {
                connection = nil
                c.close()
                loop.pools[c.endpoint].release(c)
            }
            record(.gatewayFailure)
            finish(with: Self.errorResponse(failure.status, failure.code), code: failure.code)
        } else {
            abortResponse(failure)
        }
    }

    /// No response byte for `idle` while the client keeps up: the upstream stalled.
    func armIdleTimer() {
        cancelTimers()
        let idle = route.cluster.config.timeouts.idle
        let due = lastResponseActivity + TimeAmount(idle)
        timer = eventLoop.scheduleTask(deadline: due) { [self] in
            guard !responseEnded, !finished else { return }
            let quiet = NIODeadline.now() - lastResponseActivity
            if quiet >= TimeAmount(idle) && unacknowledged <= Self.highWater {
                abortResponse(ProxyFailure(.idleTimeout, "no response bytes for \(idle)"))
            } else {
                if unacknowledged > Self.highWater { lastResponseActivity = .now() }
                armIdleTimer()
            }
        }
    }
}
