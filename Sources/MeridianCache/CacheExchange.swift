public import MeridianCore
internal import MeridianConfig
internal import NIOCore
internal import NIOHTTP1

/// One request the cache could not answer from a fresh L1 entry: it looks in L2, waits for another request's fill
/// (here or on another instance), revalidates a stale entry, or goes to the origin and stores what comes back.
///
/// Confined to the request's event loop: every method runs on it (futures are hopped back before they touch state),
/// which is what makes the unchecked `Sendable` safe.
final class CacheExchange: @unchecked Sendable {
    let middleware: CacheMiddleware
    let request: Request
    let context: RequestContext
    let next: any Responder
    let primary: CacheKey
    var variantKey: String
    var varyFields: [String]?
    var l1Status = CacheStatus(cache: CacheTier.l1.rawValue)
    var l2Status: CacheStatus?
    /// The key of the local fill this request leads (its waiters look again when it is done).
    var leading: String?
    /// The cluster fill lock this request holds.
    var lock: (keys: L2Store.Keys, token: String)?
    var renewal: RepeatedTask?
    /// Waited for another request's fill.
    var collapsed = false
    /// False once L1 refused what this request stored (too big for a shard's share).
    var l1Stored = true
    /// L1 took the entry this request found in L2 (Cache-Status says `stored` only then).
    var keptInL1 = false
    /// Give up waiting for other fills at this time, and go to the origin.
    var deadline: NIODeadline
    let banGeneration: Int
    /// When this request began (the cache's clock): a URL invalidated after it is not stored by it.
    let startedAt: Double

    var loop: any EventLoop { context.eventLoop }
    var cache: HTTPCache { middleware.cache }
    var rules: MeridianConfigCache { middleware.rules }

    init(_ middleware: CacheMiddleware, request: Request, context: RequestContext, next: any Responder, primary: CacheKey) {
        self.middleware = middleware
        self.request = request
        self.context = context
        self.next = next
        self.primary = primary
        self.variantKey = primary.primary
        self.deadline = .now() + TimeAmount(middleware.cache.config.lockWait)
        self.banGeneration = middleware.cache.bans.generation
        self.startedAt = middleware.cache.clock()
    }

    var statuses: [CacheStatus] { middleware.statusMembers(l2: l2Status, l1: l1Status) }

    // MARK: Found an entry that is not simply fresh

    /// An L1 entry that needs more than a lookup: stale (serve while revalidating, or revalidate), or the request
    /// asks for validation.
    func found(_ entry: CachedEntry) -> ResponseFuture {
        let action = CacheLookup.evaluate(
            entry: entry.metadata, requestHeaders: request.fields, now: cache.clock(), serveStaleWhileRevalidate: rules.staleWhileRevalidate
        )
        return .eventually(handle(entry, action: action, hasBody: true))
    }

    func handle(_ entry: CachedEntry, action: CacheLookup.Action, hasBody: Bool) -> EventLoopFuture<Response> {
        let now = cache.clock()
        let tier = entry.tier
        switch action {
        case .fresh where hasBody:
            return loop.makeSucceededFuture(freshHit(entry))
        case .staleWhileRevalidate where hasBody:
            middleware.counters.lookup(tier, .stale)
            var status = CacheStatus(cache: tier.rawValue)
            status.hit = true
            status.ttl = ttl(entry, now: now)
            status.detail = "stale-while-revalidate"
            setStatus(status, tier: tier)
            context.annotate(CacheAnnotation.self, "stale-\(tier == .l1 ? "l1" : "l2")")
            refreshInBackground(entry)
            return loop.makeSucceededFuture(CacheAnswer.serve(entry, request: request, now: now, statuses: statuses))
        case .unsatisfiableOnlyIfCached:
            return loop.makeSucceededFuture(CacheAnswer.gatewayTimeout(statuses: statuses))
        case _ where request.isHead:
            // A HEAD the entry cannot answer as it is: forwarded as the client sent it (a 304 to validators the
            // client never sent would reach it).
            middleware.counters.lookup(tier, .miss)
            forwarding(.stale, tier: tier)
            return fetch(stale: nil, storing: false)
        case .fresh, .staleWhileRevalidate:
            // Servable, but L2 sent no body (its clock judged it stale): validate it rather than fetch the body.
            return coalesced { [self] in revalidate(entry, conditional: CacheLookup.conditionalHeaders(for: entry.metadata), hasBody: false) }
        case .revalidate(let conditional):
            return coalesced { [self] in revalidate(entry, conditional: conditional, hasBody: hasBody) }
        case .mustForward:
            middleware.counters.lookup(tier, .miss)
            forwarding(.stale, tier: tier)
            return coalesced { [self] in fetch(stale: (entry, hasBody)) }
        }
    }

    /// A fresh entry with its body, as it is.
    func freshHit(_ entry: CachedEntry) -> Response {
        middleware.counters.lookup(entry.tier, .hit)
        return serveHit(entry, now: cache.clock())
    }

    func serveHit(_ entry: CachedEntry, now: Double) -> Response {
        var status = CacheStatus(cache: entry.tier.rawValue)
        status.hit = true
        status.ttl = ttl(entry, now: now)
        status.collapsed = collapsed
        setStatus(status, tier: entry.tier)
        if entry.tier == .l2 {
            l1Status.forward = l1Status.forward ?? (varyFields == nil ? .uriMiss : .varyMiss)
            l1Status.stored = keptInL1
        }
        context.annotate(CacheAnnotation.self, collapsed ? "collapsed" : (entry.tier == .l1 ? "hit-l1" : "hit-l2"))
        return CacheAnswer.serve(entry, request: request, now: now, statuses: statuses)
    }

    func ttl(_ entry: CachedEntry, now: Double) -> Int {
        Int((entry.metadata.freshnessLifetime - entry.metadata.currentAge(now: now)).rounded(.down))
    }

    func setStatus(_ status: CacheStatus, tier: CacheTier) {
        if tier == .l1 { l1Status = status } else { l2Status = status }
    }

    /// Marks the lookup as forwarded (for the tiers that were asked).
    func forwarding(_ reason: CacheStatus.Forward, tier: CacheTier? = nil) {
        if tier != .l2 || l1Status.forward == nil { l1Status.forward = l1Status.forward ?? reason }
        if cache.hasL2, tier == .l2 || l2Status != nil { l2Status = l2Status ?? CacheStatus(cache: CacheTier.l2.rawValue); l2Status?.forward = reason }
    }

    // MARK: Not in L1

    func missInL1() -> ResponseFuture {
        l1Status.forward = varyFields == nil ? .uriMiss : .varyMiss
        middleware.counters.lookup(.l1, .miss)
        guard let l2 = cache.l2 else { return .eventually(coalesce()) }
        guard l2.isAvailable else { return .eventually(l2Unavailable()) }
        return .eventually(lookupL2(readVary: varyFields == nil))
    }

    /// A URL whose last response could not be stored: straight to the origin as the client asked, no waiting
    /// behind others.
    func pass() -> ResponseFuture {
        middleware.counters.lookup(.l1, .pass)
        l1Status.forward = .uriMiss
        context.annotate(CacheAnnotation.self, "pass")
        return .eventually(fetch(stale: nil, storing: false))
    }

    func l2Keys() -> L2Store.Keys? {
        cache.l2?.keys(primary: primary.primary, variant: varyFields == nil ? nil : variantKey)
    }

    func lookupL2(readVary: Bool) -> EventLoopFuture<Response> {
        guard let l2 = cache.l2, let keys = l2Keys() else { return coalesce() }
        let now = cache.clock()
        let answer = loop.makePromise(of: Response.self)
        // Only Redis's failure is handled here: what follows (the origin) has its own.
        l2.lookup(keys, variantKey: variantKey, now: now, readVary: readVary, on: loop) { [self] result in
            found(inL2: result, now: now, answer: answer)
        }
        return answer.futureResult
    }

    /// What L2 said (nil: Redis failed or was too slow), on the request's loop.
    private func found(inL2 result: L2Store.Lookup?, now: Double, answer: EventLoopPromise<Response>) {
        switch result {
        case nil:
            l2Unavailable().cascade(to: answer)
        case .vary(let fields)?:
            varyFields = fields
            variantKey = primary.variant(fields: fields, requestHeaders: request.fields)
            cache.memory.put(primary.primary, .vary(fields), cost: 128, expiresAt: now + 60)
            lookupL2(readVary: false).cascade(to: answer)
        case .entry(let metadata, let storedAt, let body)?:
            if isPurged(metadata, storedAt: storedAt) { return l2Missed().cascade(to: answer) }
            let entry = CachedEntry(metadata: metadata, body: body ?? ByteBuffer(), storedAt: storedAt, tier: .l2)
            guard entry.isAcceptable(to: request) else { return l2Missed().cascade(to: answer) }
            if body != nil { keepInL1(entry) }
            let action = CacheLookup.evaluate(
                entry: metadata, requestHeaders: request.fields, now: cache.clock(), serveStaleWhileRevalidate: rules.staleWhileRevalidate
            )
            if action == .fresh, body != nil { return answer.succeed(freshHit(entry)) }  // the common case, without a future
            handle(entry, action: action, hasBody: body != nil).cascade(to: answer)
        case .miss?:
            l2Missed().cascade(to: answer)
        }
    }

    /// An L2 entry stored before a purge rule that covers it (L2 entries are not deleted by purges: each instance
    /// holds the rules and skips what they cover).
    func isPurged(_ metadata: CacheEntryMetadata, storedAt: Double) -> Bool {
        cache.bans.covers(url: purgeURL(ofPrimary: primary.primary), tags: metadata.tags, storedAt: storedAt)
    }

    /// Redis is down or did not answer in time: on without L2 (`detail=unavailable` in Cache-Status).
    private func l2Unavailable() -> EventLoopFuture<Response> {
        middleware.counters.lookup(.l2, .error)
        l2Status = CacheStatus(cache: CacheTier.l2.rawValue, forward: l1Status.forward, detail: "unavailable")
        return coalesce()
    }

    private func l2Missed() -> EventLoopFuture<Response> {
        middleware.counters.lookup(.l2, .miss)
        var s = CacheStatus(cache: CacheTier.l2.rawValue)
        s.forward = varyFields == nil ? .uriMiss : .varyMiss
        l2Status = s
        return coalesce()
    }

    /// An entry from L2 goes into L1 too, until it is useless even stale (if L1 takes it: ``keptInL1``).
    func keepInL1(_ entry: CachedEntry) {
        let m = entry.metadata
        let l1 = entry.moved(to: .l1)
        let expires = m.responseTime + m.retention(keep: CacheMiddleware.seconds(cache.config.keep))
        if !m.varyFields.isEmpty {
            cache.memory.put(primary.primary, .vary(m.varyFields), cost: 128, expiresAt: expires)
        }
        keptInL1 = cache.memory.put(variantKey, .entry(l1), cost: l1.cost, expiresAt: expires)
    }
}

typealias MeridianConfigCache = MeridianConfig.Configuration.Cache
