internal import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// Going to the origin: the request sent, what comes back stored (streaming to the client while it is kept),
/// revalidation by 304, stale-if-error, and background refreshes.
extension CacheExchange {
    /// The request the origin gets: the client's, without its own validators and Range when the answer may be
    /// stored (the cache wants the whole representation and answers those itself), plus the cache's validators.
    func originRequest(conditional: HTTPHeaders?, storing: Bool) -> Request {
        let stripped = ["if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range"]
        let strips = storing && !request.isHead && stripped.contains { request.fields.contains(name: $0) }
        // Nothing to change: the client's request itself (its fields as received, which the proxy copies upstream).
        if !strips && conditional == nil { return request }
        var head = request.head
        if strips {
            for name in stripped { head.headers.remove(name: name) }
        }
        if let conditional { for (name, value) in conditional { head.headers.replaceOrAdd(name: name, value: value) } }
        return Request(head: head, id: request.id, connection: request.connection, startedAt: request.startedAt, trace: request.trace, body: request.body)
    }

    /// Asks the origin whether a stale entry is still good (If-None-Match / If-Modified-Since, RFC 9111 §4.3.1).
    func revalidate(_ entry: CachedEntry, conditional: HTTPHeaders, hasBody: Bool) -> EventLoopFuture<Response> {
        forwarding(.stale, tier: entry.tier)
        return fetch(stale: (entry, hasBody), conditional: conditional)
    }

    /// Asks the origin. `storing`: the answer may be kept (false for a URL that passes: the client's Range and
    /// validators then go through as they are).
    func fetch(
        stale: (entry: CachedEntry, hasBody: Bool)?, conditional: HTTPHeaders? = nil, storing: Bool = true
    ) -> EventLoopFuture<Response> {
        let requestTime = cache.clock()
        let origin = originRequest(conditional: conditional, storing: storing)
        var originContext = context
        // A fill others wait for goes on when its client leaves (the fill's reading no longer depends on it).
        if leading != nil || lock != nil { originContext.clientGone = context.clientGone.ignoringDeparture }
        return next.respond(to: origin, context: originContext).future(on: loop)
            .flatMapError { [self] error -> EventLoopFuture<Response> in
                // No response at all (the proxy failed): as a 502 for stale-if-error, else the error goes on.
                if let stale, let answer = staleOnError(stale.entry, hasBody: stale.hasBody, status: 502, origin: nil) {
                    return answer
                }
                finishFill()
                return loop.makeFailedFuture(error)
            }
            .flatMap { [self] response in answered(response, stale: stale, requestTime: requestTime, storing: storing) }
    }

    private func answered(
        _ response: Response, stale: (entry: CachedEntry, hasBody: Bool)?, requestTime: Double, storing: Bool
    ) -> EventLoopFuture<Response> {
        let responseTime = cache.clock()
        let code = Int(response.status.code)
        l1Status.forwardStatus = code
        if l2Status != nil { l2Status?.forwardStatus = code }
        if let stale, code == 304, !request.isHead {
            return refreshed(stale.entry, hasBody: stale.hasBody, by: response, requestTime: requestTime, responseTime: responseTime)
        }
        if let stale, CacheLookup.isError(status: code),
            let answer = staleOnError(stale.entry, hasBody: stale.hasBody, status: code, origin: response)
        {
            return answer
        }
        guard storing, response.upgrade == nil, !request.isHead, !CacheControl(request.fields).noStore else {
            finishFill()
            return loop.makeSucceededFuture(annotated(response, stored: false, detail: nil))
        }
        let decision = middleware.policy.decide(
            method: .GET, requestHeaders: request.fields, status: code, responseHeaders: response.headers,
            requestTime: requestTime, responseTime: responseTime
        )
        guard case .store(let metadata) = decision else {
            if case .doNotStore(let reason) = decision {
                if !CacheLookup.isError(status: code), Self.passes(reason) { markPass() }
                middleware.counters.lookup(.l1, .pass)
                finishFill()
                context.annotate(CacheAnnotation.self, "pass")
                return loop.makeSucceededFuture(annotated(response, stored: false, detail: reason.text))
            }
            finishFill()
            return loop.makeSucceededFuture(response)
        }
        if let length = response.body.declaredLength, !fitsATier(length) {
            return tooLarge(response)
        }
        context.annotate(CacheAnnotation.self, stale == nil ? (collapsed ? "collapsed" : "miss") : "stale-refetch")
        switch response.body {
        case .empty:
            store(metadata, body: ByteBuffer())
            return loop.makeSucceededFuture(annotated(response, stored: true, detail: nil))
        case .buffer(let body):
            let entry = store(metadata, body: body)
            if request.fields.contains(name: "range"), let entry {
                return loop.makeSucceededFuture(CacheAnswer.serve(entry, request: request, now: responseTime, statuses: storedStatuses()))
            }
            return loop.makeSucceededFuture(annotated(response, stored: true, detail: nil))
        case .stream(let stream):
            if request.fields.contains(name: "range") {
                // The whole body first, then the range of it (the origin was asked for all of it).
                return collect(stream, limit: cache.config.maxBody).flatMap { [self] body in
                    guard let body, let entry = store(metadata, body: body) else {
                        finishFill()
                        guard let body else {
                            // Too long to keep (or cut): the whole-body fetch was a waste; the client asks again.
                            markPass()
                            return loop.makeSucceededFuture(.text(.serviceUnavailable, "503 Service Unavailable: the response was too long to cut a range from; retry\n", headers: ["retry-after": "0"]))
                        }
                        var whole = response
                        whole.body = .buffer(body)
                        return loop.makeSucceededFuture(annotated(whole, stored: false, detail: nil))
                    }
                    return loop.makeSucceededFuture(CacheAnswer.serve(entry, request: request, now: cache.clock(), statuses: storedStatuses()))
                }
            }
            var out = annotated(response, stored: true, detail: nil)
            out.body = .stream(filling(stream, metadata: metadata))
            return loop.makeSucceededFuture(out)
        case .file, .parts:
            finishFill()
            return loop.makeSucceededFuture(annotated(response, stored: false, detail: nil))
        }
    }

    /// Whether a body this long can be kept anywhere: under `max_body`, and within an L1 shard's share or L2's limit.
    private func fitsATier(_ length: Int) -> Bool {
        guard length <= cache.config.maxBody else { return false }
        let l1Share = cache.memory.maxBytes / max(1, cache.memory.shardCount)
        return length + 4096 <= l1Share || (cache.l2 != nil && length <= cache.config.l2MaxBody)
    }

    /// Reasons that come from the response: its URL passes for a while. Reasons of the request (its own no-store,
    /// Authorization) say nothing about the next request.
    static func passes(_ reason: NotStoredReason) -> Bool {
        switch reason {
        case .requestNoStore, .authorization, .method: return false
        default: return true
        }
    }

    private func storedStatuses() -> [CacheStatus] {
        l1Status.stored = l1Stored
        if l2Status != nil { l2Status?.stored = true }
        return statuses
    }

    /// Adds Cache-Status to a response from the origin.
    func annotated(_ response: Response, stored: Bool, detail: String?) -> Response {
        if stored {
            l1Status.stored = l1Stored
            if l2Status != nil, cache.l2?.isAvailable == true { l2Status?.stored = true }
        }
        if let detail { l1Status.detail = l1Status.detail ?? detail }
        l1Status.collapsed = collapsed
        var out = response
        out.headers.add(name: "cache-status", value: CacheStatus.join(statuses))
        return out
    }

    /// Remembers that this URL's responses are not stored (no waiting behind each other for a while); never over an
    /// entry or a vary marker another response left.
    private func markPass() {
        let now = cache.clock()
        switch cache.memory.get(primary.primary, now: now) {
        case .entry?, .vary?: return
        case .pass?, nil: cache.memory.put(primary.primary, .pass, cost: 64, expiresAt: now + HTTPCache.passDuration)
        }
    }

    private func tooLarge(_ response: Response) -> EventLoopFuture<Response> {
        cache.stats.tooLarge.add()
        markPass()
        finishFill()
        return loop.makeSucceededFuture(annotated(response, stored: false, detail: "too-large"))
    }

    /// RFC 9111 §4.3.4: a 304 refreshes the stored headers and freshness; the stored body is sent.
    private func refreshed(
        _ entry: CachedEntry, hasBody: Bool, by response: Response, requestTime: Double, responseTime: Double
    ) -> EventLoopFuture<Response> {
        let metadata = entry.metadata.freshened(
            with: response.headers, requestTime: requestTime, responseTime: responseTime, policy: middleware.policy
        )
        return body(of: entry, hasBody: hasBody).flatMap { [self] body in
            guard let body else { return fetch(stale: nil) }
            middleware.counters.lookup(entry.tier, .revalidated)
            context.annotate(CacheAnnotation.self, "revalidated")
            let stored = store(metadata, body: body) ?? CachedEntry(metadata: metadata, body: body, storedAt: responseTime, tier: .l1)
            return loop.makeSucceededFuture(CacheAnswer.serve(stored, request: request, now: cache.clock(), statuses: storedStatuses()))
        }
    }

    /// RFC 5861 §4: the origin failed; a stale entry within its stale-if-error window is better than the error.
    /// `origin`: the origin's error response, sent after all if the stale body cannot be had (nil: no response).
    private func staleOnError(_ entry: CachedEntry, hasBody: Bool, status: Int, origin: Response?) -> EventLoopFuture<Response>? {
        guard rules.staleIfError, CacheLookup.mayServeStaleOnError(entry: entry.metadata, requestHeaders: request.fields, now: cache.clock())
        else { return nil }
        finishFill()
        return body(of: entry, hasBody: hasBody).flatMap { [self] body in
            guard let body else {
                if let origin { return loop.makeSucceededFuture(annotated(origin, stored: false, detail: nil)) }
                return loop.makeSucceededFuture(.text(.badGateway, "502 Bad Gateway\n"))
            }
            middleware.counters.lookup(entry.tier, .stale)
            l1Status.forwardStatus = status
            l1Status.detail = "stale-if-error"
            context.annotate(CacheAnnotation.self, "stale-if-error")
            let served = CachedEntry(metadata: entry.metadata, body: body, storedAt: entry.storedAt, tier: entry.tier)
            return loop.makeSucceededFuture(CacheAnswer.serve(served, request: request, now: cache.clock(), statuses: statuses))
        }
    }

    private func body(of entry: CachedEntry, hasBody: Bool) -> EventLoopFuture<ByteBuffer?> {
        if hasBody { return loop.makeSucceededFuture(entry.body) }
        guard let l2 = cache.l2 else { return loop.makeSucceededFuture(nil) }
        let keys = l2.keys(primary: primary.primary, variant: varyFields == nil ? nil : variantKey)
        return l2.body(keys, on: loop).hop(to: loop).recover { _ in nil }
    }

    // MARK: Storing

    /// Keeps the entry in L1 and (when it fits and Redis is there) L2, unless a purge that arrived during the fill
    /// covers it. Ends this request's part in coalescing.
    @discardableResult
    func store(_ metadata: CacheEntryMetadata, body: ByteBuffer) -> CachedEntry? {
        let now = cache.clock()
        let url = purgeURL(ofPrimary: primary.primary)
        guard !cache.bans.coversSince(banGeneration, url: url, tags: metadata.tags), !cache.invalidated(url, since: startedAt) else {
            finishFill()
            return nil
        }
        let fields = metadata.varyFields
        let key = fields.isEmpty ? primary.primary : primary.variant(fields: fields, requestHeaders: request.fields)
        let entry = CachedEntry(metadata: metadata, body: body, storedAt: now, tier: .l1)
        let retention = metadata.retention(keep: CacheMiddleware.seconds(cache.config.keep))
        let expires = metadata.responseTime + retention
        if !fields.isEmpty { cache.memory.put(primary.primary, .vary(fields), cost: 128, expiresAt: expires) }
        let inL1 = cache.memory.put(key, .entry(entry), cost: entry.cost, expiresAt: expires)
        if !inL1 { l1Stored = false }
        guard let l2 = cache.l2, l2.isAvailable, body.readableBytes <= cache.config.l2MaxBody else {
            finishFill()
            return entry
        }
        var keys = l2.keys(primary: primary.primary, variant: fields.isEmpty ? nil : key)
        if let lock { keys.lock = lock.keys.lock }
        let freshUntil = metadata.responseTime + metadata.freshnessLifetime - metadata.correctedInitialAge
        let usable = freshUntil + (rules.staleWhileRevalidate ? Double(metadata.control.staleWhileRevalidate ?? 0) : 0)
        let ttl = min(retention, CacheMiddleware.seconds(cache.config.l2MaxTTL))
        let token = lock?.token
        let stats = cache.stats
        let size = body.readableBytes
        let loop = self.loop
        l2.store(
            metadata, body: body, keys: keys, variantKey: key, varyFields: fields, usableUntil: usable, timeToLive: ttl,
            lockToken: token, on: loop
        ).whenComplete { result in
            switch result {
            case .success:
                stats.l2Stores.add()
                stats.l2BytesStored.add(size)
            case .failure:
                // The script did not run (or failed): the lock is still ours; let the waiters go now.
                if let token { l2.release(keys, token: token, on: loop) }
            }
        }
        // The store script released the lock and announced the fill.
        finishFill(releaseLock: false)
        return entry
    }

    /// The body is read from the origin into the entry at the origin's pace and sent to the client at its own
    /// (``FillStream``); at its end the entry is stored. A body that grows past `max_body` stops being kept (and the URL
    /// passes for a while). A client that leaves does not stop a fill that is being kept.
    private func filling(_ inner: BodyStream, metadata: CacheEntryMetadata) -> BodyStream {
        let fill = FillStream(loop: loop, limit: cache.config.maxBody, expectedLength: inner.length, allocator: context.allocator)
        fill.onOverflow = { [self] in tooLargeMidway() }
        fill.onEnd = { [self] body in
            if let body, inner.trailers?()?.isEmpty ?? true {
                store(metadata, body: body)
            } else {
                finishFill()
            }
        }
        context.clientGone.whenGone { reason in fill.clientLeft(ClientLeft(reason: reason)) }
        fill.start(inner)
        return BodyStream(length: inner.length, trailers: inner.trailers) { _, write in fill.attach(write) }
    }

    private func tooLargeMidway() {
        cache.stats.tooLarge.add()
        markPass()
        finishFill()
    }

    /// Reads a whole streamed body (bounded): for a Range request's miss and for background refreshes.
    func collect(_ stream: BodyStream, limit: Int) -> EventLoopFuture<ByteBuffer?> {
        final class Sink: @unchecked Sendable {  // confined to the loop
            var buffer: ByteBuffer? = ByteBuffer()
        }
        let sink = Sink()
        let loop = self.loop
        return stream.produce(loop) { piece in
            if sink.buffer != nil {
                if sink.buffer!.readableBytes + piece.readableBytes > limit { sink.buffer = nil } else {
                    var p = piece
                    sink.buffer!.writeBuffer(&p)
                }
            }
            return loop.makeSucceededVoidFuture()
        }.map { sink.buffer }.recover { _ in nil }
    }

    // MARK: Background refresh

    /// RFC 5861 §3: the stale entry was served; one request refreshes it (one per instance through the coordinator,
    /// one per cluster through the lock). The client does not wait for it.
    func refreshInBackground(_ entry: CachedEntry) {
        let key = "refresh \(variantKey)"
        guard cache.fills.tryLead(key) else { return }
        cache.stats.backgroundRefreshes.add()
        let refresher = CacheExchange(
            middleware, request: request,
            context: RequestContext(eventLoop: loop, allocator: context.allocator, logger: context.logger, route: context.route),
            next: next, primary: primary
        )
        refresher.varyFields = varyFields
        refresher.variantKey = variantKey
        refresher.leading = key
        let go = { [refresher] in
            _ = refresher.fetch(stale: (entry, true), conditional: CacheLookup.conditionalHeaders(for: entry.metadata)).flatMap { response -> EventLoopFuture<Void> in
                guard case .stream(let s) = response.body else { return refresher.loop.makeSucceededVoidFuture() }
                return s.produce(refresher.loop) { _ in refresher.loop.makeSucceededVoidFuture() }
            }.always { _ in refresher.finishFill() }
        }
        guard let l2 = cache.l2, l2.isAvailable, let keys = refresher.l2Keys() else {
            go()
            return
        }
        let token = cache.lockToken()
        var refreshKeys = keys
        refreshKeys.lock = keys.entry + ":refresh"
        l2.tryLock(refreshKeys, token: token, ttl: cache.config.lockTTL, on: loop).hop(to: loop).whenComplete { result in
            if case .success(true) = result {
                refresher.lock = (refreshKeys, token)
                go()
            } else if case .failure = result {
                refresher.lock = (refreshKeys, token)  // the SET may have run: the store frees it if it is ours
                go()
            } else {
                refresher.finishFill()
            }
        }
    }
}

/// The client went away while a fill it started went on.
struct ClientLeft: Error, CustomStringConvertible {
    var reason: String
    var description: String { "client gone: \(reason)" }
}
