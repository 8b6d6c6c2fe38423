public import MeridianConfig
internal import MeridianRedis
internal import MeridianProxy
public import MeridianCore
internal import NIOConcurrencyHelpers
public import NIOCore
public import NIOHTTP1

/// `rate_limit:` on a route: a token bucket per key, answered locally (a bounded table per route) or across the
/// cluster (``GlobalRateLimits``). An allowed request carries `RateLimit-Policy` and `RateLimit` (the IETF httpapi
/// draft fields); a refused one gets 429 with those and `Retry-After`, and never reaches the route's action.
public struct RateLimitMiddleware: Middleware {
    let config: Configuration.RateLimit
    let quota: RateLimitQuota
    let policy: RateLimitHeaders.Prepared
    let key: KeyExtractor
    let local: LocalLimiter?
    let global: GlobalLimiter?
    let localCounters: RateLimitStats.Counters

    /// `global` nil with `scope: global` (no Redis configured) counts locally, as a one-instance cluster would.
    public init(_ config: Configuration.RateLimit, trustedProxies: [IPNetwork], global limits: GlobalRateLimits?, stats: RateLimitStats) {
        self.config = config
        let quota = RateLimitQuota(rate: config.rate, per: config.per, burst: config.burst)
        self.quota = quota
        self.policy = RateLimitHeaders.Prepared(RateLimitHeaders.Policy(name: config.name, quota: quota))
        self.key = KeyExtractor(config.key, trustedProxies: trustedProxies)
        self.localCounters = stats.counters(policy: config.name, scope: "local")
        if config.scope == .global, let limits {
            self.global = limits.limiter(for: config, quota: quota, stats: stats)
            self.local = nil
        } else {
            self.global = nil
            self.local = LocalLimiter(quota: quota)
        }
    }

    public func respond(to request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        let key = KeyExtractor.bounded(self.key.key(for: request, context: context))
        if let local {
            let decision = local.take(key: key)
            (decision.allowed ? localCounters.allowed : localCounters.limited).wrappingIncrement(ordering: .relaxed)
            return answer(decision, request: request, context: context, next: next)
        }
        guard let global else { return next.respond(to: request, context: context) }
        switch global.take(key: key, on: context.eventLoop, trace: request.trace) {
        case .now(let decision):
            return answer(decision, request: request, context: context, next: next)
        case .later(let future):
            let policy = self.policy
            return .eventually(
                future.flatMap { decision in
                    Self.answer(decision, policy: policy, request: request, context: context, next: next).future(on: context.eventLoop)
                }
            )
        }
    }

    private func answer(_ decision: RateLimitDecision, request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        Self.answer(decision, policy: policy, request: request, context: context, next: next)
    }

    static func answer(
        _ decision: RateLimitDecision, policy: RateLimitHeaders.Prepared, request: Request, context: RequestContext, next: any Responder
    ) -> ResponseFuture {
        let fields = policy.fields(for: decision)
        guard decision.allowed else {
            var headers = HTTPHeaders(fields.map { ($0.name, $0.value) })
            headers.add(name: "cache-control", value: "no-store")
            context.annotate(RateLimitedAnnotation.self, policy.policy.name)
            return .immediate(.text(.tooManyRequests, "rate limit exceeded (\(policy.policy.name))\n", headers: headers))
        }
        return next.respond(to: request, context: context).map { response in
            var response = response
            for field in fields { response.headers.add(name: field.name, value: field.value) }
            return response
        }
    }
}

/// The access log's `ratelimit` field: the policy that refused the request.
public enum RateLimitedAnnotation: RecordAnnotationKey {
    public typealias Value = String
    public static let name = "ratelimit"
}

/// One route's local limit: its buckets in a few lock-striped tables, so requests of different keys on different
/// event loops rarely wait for each other.
final class LocalLimiter: Sendable {
    private let shards: [NIOLockedValueBox<RateLimitTable<ContinuousClock>>]

    init(quota: RateLimitQuota, maxKeys: Int = 100_000, shards: Int = 8) {
        self.shards = (0..<shards).map { _ in NIOLockedValueBox(RateLimitTable(quota, maxKeys: max(1, maxKeys / shards))) }
    }

    func take(key: String) -> RateLimitDecision {
        let shard = shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
        let now = ContinuousClock.now
        return shard.withLockedValue { $0.take(key: key, at: now) }
    }
}

/// Where a limit's key comes from.
struct KeyExtractor: Sendable {
    let source: Configuration.RateLimit.Key
    let trustedProxies: [IPNetwork]

    init(_ source: Configuration.RateLimit.Key, trustedProxies: [IPNetwork]) {
        self.source = source
        self.trustedProxies = trustedProxies
    }

    /// Keys longer than 64 bytes (a header or cookie value can be 32 KiB) are replaced by their SHA-1: a
    /// client cannot make the table, the ledger or Redis's key names hold kilobytes per key.
    static func bounded(_ key: String) -> String {
        key.utf8.count <= 64 ? key : "sha1:" + RedisScript.sha1Hex(key)
    }

    /// The bucket's key; a request without the header, cookie or parameter shares the bucket of the empty key
    /// (so leaving the header out is not a way around the limit).
    func key(for request: Request, context: RequestContext) -> String {
        switch source {
        case .route:
            return ""
        case .header(let name):
            return request.fields.first(name: name) ?? ""
        case .cookie(let name):
            return request.cookie(name).map(String.init) ?? ""
        case .parameter(let name):
            return context.parameter(name).map(String.init) ?? ""
        case .clientIP:
            return clientIP(request)
        }
    }

    /// The client's address (``ClientAddress``); "" when there is none to read.
    func clientIP(_ request: Request) -> String {
        ClientAddress.of(request, trustedProxies: trustedProxies)?.text ?? ""
    }
}
