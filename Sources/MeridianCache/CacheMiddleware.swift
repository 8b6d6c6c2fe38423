public import MeridianConfig
public import MeridianCore
internal import MeridianProxy
internal import NIOCore
internal import NIOHTTP1

/// `cache:` on a proxy route: RFC 9111 caching of the upstream's responses in front of it, L1 then L2 then the origin.
///
/// A fresh L1 hit is answered here at once, with no future and no Redis call; everything else (an L2 lookup, a
/// revalidation, a coalesced fill) is a ``CacheExchange``. Unsafe methods pass through and, when they succeed,
/// invalidate what they touched (§4.4); `PURGE` (when enabled, from the allowed networks) purges a URL or tags.
public struct CacheMiddleware: Middleware {
    let cache: HTTPCache
    let rules: Configuration.Cache
    let policy: StoragePolicy
    let keyOptions: KeyOptions
    let purgeAllow: [IPNetwork]
    let counters: CacheStats.RouteCounters

    public init(_ rules: Configuration.Cache, cache: HTTPCache, route: String) {
        self.cache = cache
        self.counters = cache.stats.route(route)
        self.rules = rules
        var c = StoragePolicy.Configuration()
        c.defaultTTL = rules.defaultTTL.map(Self.seconds)
        c.overrideTTL = rules.overrideTTL.map(Self.seconds)
        c.maxTTL = Self.seconds(rules.maxTTL)
        c.storeSetCookie = rules.storeSetCookie
        c.tagField = rules.tagHeader
        self.policy = StoragePolicy(configuration: c)
        var k = KeyOptions()
        k.ignoredQueryParameters = Set(rules.ignoreQuery)
        k.sortQuery = rules.sortQuery
        self.keyOptions = k
        self.purgeAllow = cache.config.purgeMethod ? cache.config.purgeAllow.compactMap { IPNetwork(parsing: $0) } : []
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    public func respond(to request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        switch request.method {
        case .GET, .HEAD:
            break
        case .PURGE:
            return purge(request, context: context, next: next)
        case .OPTIONS, .TRACE:
            return next.respond(to: request, context: context)
        default:
            return invalidating(request, context: context, next: next)
        }
        // An upgrade, or a GET with a body (the key names the URL alone): not the cache's.
        if request.upgradeProtocol != nil || request.fields.contains(name: "transfer-encoding")
            || (request.fields.first(name: "content-length").map { $0 != "0" } ?? false)
        {
            counters.lookup(.l1, .bypass)
            return next.respond(to: request, context: context)
        }
        let now = cache.clock()
        let primary = CacheKey.primary(
            method: "GET", scheme: request.connection.scheme, host: request.host, path: request.path, query: request.query,
            options: keyOptions
        )
        let l1 = L1Lookup(cache.memory, primary: primary, request: request, now: now)
        if let entry = l1.entry, let answer = answerFresh(entry, request: request, context: context, now: now) {
            return .immediate(answer)
        }
        let exchange = CacheExchange(self, request: request, context: context, next: next, primary: primary)
        exchange.varyFields = l1.varyFields
        exchange.variantKey = l1.variantKey
        if let entry = l1.entry { return exchange.found(entry) }
        if l1.pass { return exchange.pass() }
        return exchange.missInL1()
    }

    /// The fast path: a fresh L1 entry the request accepts as it is.
    private func answerFresh(_ entry: CachedEntry, request: Request, context: RequestContext, now: Double) -> Response? {
        guard CacheLookup.evaluate(entry: entry.metadata, requestHeaders: request.fields, now: now) == .fresh else { return nil }
        counters.lookup(.l1, .hit)
        var status = CacheStatus(cache: CacheTier.l1.rawValue)
        status.hit = true
        status.ttl = Int((entry.metadata.freshnessLifetime - entry.metadata.currentAge(now: now)).rounded(.down))
        context.annotate(CacheAnnotation.self, "hit-l1")
        return CacheAnswer.serve(entry, request: request, now: now, statuses: statusMembers(l1: status))
    }

    /// The Cache-Status members, origin side first (RFC 9211 §2): L2's (when there is one) then L1's.
    func statusMembers(l2: CacheStatus? = nil, l1: CacheStatus) -> [CacheStatus] {
        guard cache.hasL2 else { return [l1] }
        if let l2 { return [l2, l1] }
        return [l1]
    }

    // MARK: Unsafe methods and PURGE

    /// RFC 9111 §4.4: a successful unsafe request invalidates its target and the same-origin Location and
    /// Content-Location, in every instance's L1 and in L2.
    private func invalidating(_ request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        let options = keyOptions
        let cache = self.cache
        return next.respond(to: request, context: context).map { response in
            let targets = Invalidation.targets(
                method: request.method, status: Int(response.status.code), scheme: request.connection.scheme, host: request.host,
                path: request.path, query: request.query, responseHeaders: response.headers, options: options
            )
            for target in targets {
                _ = cache.invalidate(String(purgeURL(ofPrimary: target.primary)), on: context.eventLoop)
            }
            return response
        }
    }

    /// `PURGE /path` purges that URL (all its variants); with the tag header (`Surrogate-Key: a b`), those tags.
    private func purge(_ request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        guard !purgeAllow.isEmpty else { return next.respond(to: request, context: context) }
        guard let peer = request.connection.remoteAddress, purgeAllow.trusts(peer) else {
            return .immediate(.text(.forbidden, "403 Forbidden: PURGE is not allowed from this address\n"))
        }
        let tags = request.fields[rules.tagHeader].flatMap { $0.split(separator: " ").map(String.init) }
        let url = CacheKey.url(
            scheme: request.connection.scheme, host: request.host, path: request.path, query: request.query, options: keyOptions
        )
        let loop = context.eventLoop
        let purges = tags.isEmpty ? [cache.purge(.url, url, on: loop)] : tags.map { cache.purge(.tag, $0, on: loop) }
        return .eventually(
            EventLoopFuture.whenAllSucceed(purges, on: loop).map { outcomes in
                let scope = outcomes.first?.scope ?? "instance"
                let removed = outcomes.reduce(0) { $0 + $1.removedHere }
                var answer: [String: Any] = ["purged": true, "scope": scope, "removed_here": removed]
                if tags.isEmpty { answer["url"] = url } else { answer["tags"] = tags.count }
                return CachePurgeResponder.json(answer)
            }
        )
    }
}

/// The access log's `cache` field (and the span's `meridian.cache`): `hit-l1`, `hit-l2`, `stale-l1`, `revalidated`,
/// `miss`, `collapsed`, `pass`, `bypass`.
public enum CacheAnnotation: RecordAnnotationKey {
    public typealias Value = String
    public static let name = "cache"
}
