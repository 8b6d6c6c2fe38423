internal import Atomics
public import Logging
public import MeridianConfig
public import MeridianCore
public import MeridianRedis
internal import NIOConcurrencyHelpers
public import NIOCore

/// Global rate limits: the same bucket counted by every instance, in Redis.
///
/// - `exact`: one ``RedisScripts/gcraScript`` call per request, pipelined on the event loop's connection, bounded by
///   the request budget (`redis.timeouts.request`).
/// - `batched`: tokens leased from Redis in small batches (``LeaseLedger``), spent locally, refilled in the
///   background and given back after the lease TTL; overshoot at most `instances × batch` per window.
///
/// Redis down (or slower than the budget): the request gets the local answer at the instance's share of the limit —
/// rate and burst divided by the live instances last seen — so the cluster as a whole stays near the limit, and no
/// request fails or waits because of Redis. Redis back: the global bucket takes over afresh (what was counted
/// locally during the outage is not replayed into it).
public final class GlobalRateLimits: Sendable {
    let client: RedisClient
    let membership: ClusterMembership
    let prefix: String
    let requestBudget: Duration
    let logger: Logger
    let group: any EventLoopGroup
    let tracing: (any RedisCallTracing)?
    private let limiters = NIOLockedValueBox<[GlobalLimiter]>([])
    private let sweeper = NIOLockedValueBox<RepeatedTask?>(nil)
    static let gcra = RedisScript(RedisScripts.gcraScript)
    static let lease = RedisScript(RedisScripts.leaseScript)
    static let giveBack = RedisScript(RedisScripts.returnScript)

    public init(
        client: RedisClient, membership: ClusterMembership, group: any EventLoopGroup, keyPrefix: String, requestBudget: Duration, logger: Logger,
        tracing: (any RedisCallTracing)? = nil
    ) {
        self.tracing = tracing
        self.client = client
        self.membership = membership
        self.prefix = keyPrefix
        self.requestBudget = requestBudget
        self.logger = logger
        self.group = group
    }

    public func start() {
        let task = group.next().scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: .milliseconds(500)) { [weak self] _ in
            self?.sweep()
        }
        sweeper.withLockedValue { $0 = task }
    }

    public func stop() {
        sweeper.withLockedValue { $0 }?.cancel()
    }

    var isActive: Bool { !client.isDegraded }

    /// The first configured node, for spans' `server.address` (a cluster's calls go to the key's node).
    var firstNode: (host: String, port: Int) {
        let node = client.settings.seeds[0]
        return (node.host, node.port)
    }

    /// The limiter of a policy. Routes that name the same policy (same name and quota, as validation requires)
    /// share one limiter and one bucket; a reload that keeps a policy keeps its limiter (and its leases).
    func limiter(for config: Configuration.RateLimit, quota: RateLimitQuota, stats: RateLimitStats) -> GlobalLimiter {
        limiters.withLockedValue { list in
            if let existing = list.first(where: { $0.config == config }) { return existing }
            let limiter = GlobalLimiter(owner: self, config: config, quota: quota, stats: stats)
            // A changed policy of the same name replaces the old limiter; its unreturned tokens just expire in Redis.
            list.removeAll { $0.config.name == config.name }
            list.append(limiter)
            return limiter
        }
    }

    /// Gives back the tokens leases no longer need (every 500 ms).
    private func sweep() {
        for limiter in limiters.withLockedValue({ $0 }) { limiter.returnExpired() }
    }
}

/// One policy's global limiter.
final class GlobalLimiter: Sendable {
    enum Answer {
        case now(RateLimitDecision)
        case later(EventLoopFuture<RateLimitDecision>)
    }

    unowned let owner: GlobalRateLimits
    let config: Configuration.RateLimit
    let quota: RateLimitQuota
    /// The ledger and the requests waiting for a key's lease in flight, under one lock: a request that finds the
    /// lease in flight and the lease's answer cannot pass each other.
    private let state: NIOLockedValueBox<BatchState>

    struct BatchState {
        var ledger: LeaseLedger<ContinuousClock>
        var waiters: [String: [(promise: EventLoopPromise<RateLimitDecision>, eventLoop: any EventLoop, depth: Int)]] = [:]
    }
    /// The local answer while Redis is down: the instance's share of the limit, remade when the share changes.
    private let fallback: NIOLockedValueBox<(instances: Int, limiter: LocalLimiter)>
    private let global: RateLimitStats.Counters
    private let degraded: RateLimitStats.Counters
    /// The GCRA script's arguments for one request (the same for every request of the policy).
    private let exactArguments: [RedisArgument]
    /// `remaining` of the latest lease reply, for the `RateLimit` field of batched answers.
    private let lastRemaining = ManagedAtomic<Int>(0)

    init(owner: GlobalRateLimits, config: Configuration.RateLimit, quota: RateLimitQuota, stats: RateLimitStats) {
        self.owner = owner
        self.config = config
        self.quota = quota
        let batch = min(config.batch, quota.burst)
        self.state = NIOLockedValueBox(BatchState(ledger: LeaseLedger(.init(batch: batch, lowWater: batch / 4, leaseTTL: .seconds(1)))))
        self.fallback = NIOLockedValueBox((1, LocalLimiter(quota: quota)))
        self.exactArguments = RedisScripts.arguments(quota, 1).map { RedisArgument.string($0) }
        self.global = stats.counters(policy: config.name, scope: "global")
        self.degraded = stats.counters(policy: config.name, scope: "fallback")
    }

    func redisKey(_ key: String) -> String {
        "\(owner.prefix):{rl:\(config.name):\(key)}"
    }

    func take(key: String, on eventLoop: any EventLoop, trace: TraceContext? = nil) -> Answer {
        guard owner.isActive else { return .now(local(key)) }
        let answer: Answer
        switch config.mode {
        case .exact: answer = exact(key, on: eventLoop)
        case .batched: answer = batched(key, on: eventLoop)
        }
        // The request waits on Redis only when the answer is not at hand: that wait gets a CLIENT span.
        guard case .later(let future) = answer, let tracing = owner.tracing,
            let finish = tracing.startRedisSpan(
                trace: trace, operation: "EVALSHA", server: owner.firstNode, policy: config.name
            )
        else { return answer }
        future.whenComplete { _ in finish(nil) }
        return answer
    }

    // MARK: - Exact

    private func exact(_ key: String, on eventLoop: any EventLoop) -> Answer {
        let reply = owner.client.run(
            GlobalRateLimits.gcra, keys: [redisKey(key)], arguments: exactArguments, timeout: owner.requestBudget, on: eventLoop
        )
        let quota = self.quota
        return .later(
            reply.map { [self] value -> RateLimitDecision in
                guard let numbers = value.array?.compactMap({ $0.int.map(Int.init) }), let d = RedisScripts.decision(gcraReply: numbers, quota: quota)
                else { return local(key) }
                count(d, global)
                return d
            }.recover { [self] _ in local(key) }
        )
    }

    // MARK: - Batched

    private func batched(_ key: String, on eventLoop: any EventLoop, depth: Int = 0) -> Answer {
        let now = ContinuousClock.now
        var waiter: EventLoopPromise<RateLimitDecision>?
        let decision = state.withLockedValue { s -> LeaseDecision in
            let d = s.ledger.take(key: key, at: now)
            guard d == .waitingForLease, depth < 3 else { return d }
            // Another request of this key is fetching a lease: wait for its answer rather than guess.
            let promise = eventLoop.makePromise(of: RateLimitDecision.self)
            s.waiters[key, default: []].append((promise, eventLoop, depth))
            waiter = promise
            return d
        }
        if let waiter { return .later(waiter.futureResult) }
        switch decision {
        case .allowed(let inHand):
            return .now(count(allowed(inHand), global))
        case .allowedAndRefill(let inHand, let want):
            _ = lease(key, want: want, on: eventLoop)
            return .now(count(allowed(inHand), global))
        case .refused(let retryAfter):
            return .now(count(refused(retryAfter), global))
        case .waitingForLease:
            // Waited for three leases and the tokens went to the requests ahead: the global bucket is what is
            // short, not Redis. Refused, as the bucket would (the local share is for Redis being unreachable).
            return .now(count(refused(quota.emissionInterval), global))
        case .mustLease where depth > 0:
            // The lease just answered granted nothing without a refusal (the bucket had a fraction of a token):
            // no second round trip. The ledger marked a lease in flight for this answer and none is sent, so
            // unmark it, or the key would wait for it forever.
            state.withLockedValue { $0.ledger.leaseFailed(key: key, at: .now) }
            return .now(count(refused(quota.emissionInterval), global))
        case .mustLease(let want):
            return .later(
                lease(key, want: want, on: eventLoop).flatMap { [self] ok in
                    guard ok else { return eventLoop.makeSucceededFuture(local(key)) }
                    return future(batched(key, on: eventLoop, depth: depth + 1), on: eventLoop)
                }
            )
        }
    }

    private func future(_ answer: Answer, on eventLoop: any EventLoop) -> EventLoopFuture<RateLimitDecision> {
        switch answer {
        case .now(let d): return eventLoop.makeSucceededFuture(d)
        case .later(let f): return f
        }
    }

    /// Leases `want` tokens; the future says whether Redis answered. The requests that waited for this lease are
    /// answered once it is in the ledger (the local share when Redis did not answer).
    private func lease(_ key: String, want: Int, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        let args = RedisScripts.arguments(quota, want).map { RedisArgument.string($0) }
        return owner.client.run(GlobalRateLimits.lease, keys: [redisKey(key)], arguments: args, timeout: owner.requestBudget, on: eventLoop)
            .map { [self] value -> Bool in
                guard let numbers = value.array?.compactMap({ $0.int.map(Int.init) }), let reply = RedisScripts.LeaseReply(numbers) else {
                    settle(key, ok: false) { $0.leaseFailed(key: key, at: .now) }
                    return false
                }
                lastRemaining.store(reply.remaining, ordering: .relaxed)
                settle(key, ok: true) { $0.granted(key: key, tokens: reply.granted, retryAfter: reply.retryAfter, at: .now) }
                return true
            }.recover { [self] _ in
                settle(key, ok: false) { $0.leaseFailed(key: key, at: .now) }
                return false
            }
    }

    private func settle(_ key: String, ok: Bool, _ update: (inout LeaseLedger<ContinuousClock>) -> Void) {
        let waiting = state.withLockedValue { s in
            update(&s.ledger)
            return s.waiters.removeValue(forKey: key) ?? []
        }
        for w in waiting {
            w.eventLoop.execute { [self] in
                guard ok else { return w.promise.succeed(local(key)) }
                future(batched(key, on: w.eventLoop, depth: w.depth + 1), on: w.eventLoop).cascade(to: w.promise)
            }
        }
    }

    func returnExpired() {
        let unused = state.withLockedValue { $0.ledger.expired(at: .now) }
        guard owner.isActive else { return }
        for u in unused where u.tokens > 0 {
            let args = RedisScripts.arguments(quota, u.tokens).map { RedisArgument.string($0) }
            _ = owner.client.run(GlobalRateLimits.giveBack, keys: [redisKey(u.key)], arguments: args)
        }
    }

    private func allowed(_ inHand: Int) -> RateLimitDecision {
        let remaining = min(quota.burst, inHand + lastRemaining.load(ordering: .relaxed))
        return RateLimitDecision(
            allowed: true, limit: quota.burst, remaining: remaining, retryAfter: nil, reset: quota.emissionInterval * (quota.burst - remaining),
            nextRefill: remaining < quota.burst ? quota.emissionInterval : nil
        )
    }

    private func refused(_ retryAfter: Duration) -> RateLimitDecision {
        RateLimitDecision(allowed: false, limit: quota.burst, remaining: 0, retryAfter: retryAfter, reset: quota.refillTime, nextRefill: retryAfter)
    }

    // MARK: - Degraded

    /// The local answer at this instance's share: rate and burst divided by the live instances last seen.
    private func local(_ key: String) -> RateLimitDecision {
        let instances = max(1, owner.membership.liveInstances)
        let limiter = fallback.withLockedValue { f -> LocalLimiter in
            if f.instances != instances {
                let share = RateLimitQuota(
                    rate: max(1, config.rate / instances), per: config.per, burst: max(1, config.burst / instances)
                )
                f = (instances, LocalLimiter(quota: share))
            }
            return f.limiter
        }
        return count(limiter.take(key: key), degraded)
    }

    @discardableResult
    private func count(_ d: RateLimitDecision, _ counters: RateLimitStats.Counters) -> RateLimitDecision {
        (d.allowed ? counters.allowed : counters.limited).wrappingIncrement(ordering: .relaxed)
        return d
    }
}
