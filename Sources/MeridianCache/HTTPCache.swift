internal import Foundation
public import Logging
public import MeridianConfig
public import MeridianRedis
internal import NIOConcurrencyHelpers
public import NIOCore

/// The HTTP cache of one process: the L1 store every event loop shares, the Redis tier (when `redis:` is configured and
/// `cache.l2` is on), request coalescing, purge rules, and what it all counts. One per process, kept across reloads;
/// each cached route has a ``CacheMiddleware`` that uses it with the route's own rules.
public final class HTTPCache: Sendable {
    public let config: Configuration.CacheStores
    let memory: MemoryStore<L1Slot>
    let l2: L2Store?
    let fills = FillCoordinator()
    let bans = PurgeBans()
    public let stats: CacheStats
    let logger: Logger
    /// Seconds since the epoch. Tests drive their own.
    let clock: @Sendable () -> Double
    /// Prefixes this instance's lock tokens (a token names its holder in `redis-cli`).
    let instanceID: String
    private let tasks = NIOLockedValueBox<[RepeatedTask]>([])
    /// URLs invalidated lately (this instance's clock), so a fill that began before cannot store what it fetched.
    private let recentInvalidations = NIOLockedValueBox<[String: Double]>([:])
    /// How long an invalidation is remembered for fills under way (longer than any fill waits).
    var invalidationMemory: Double { CacheMiddleware.seconds(config.lockWait) + 60 }
    private let lastBanSync = NIOLockedValueBox<Double>(0)

    /// How long a URL whose response could not be stored skips coalescing (Varnish's hit-for-miss lasts 120 s).
    static let passDuration: Double = 60

    public init(
        config: Configuration.CacheStores, redis: RedisClient?, keyPrefix: String = "meridian", requestBudget: Duration = .milliseconds(50),
        logger: Logger, clock: @escaping @Sendable () -> Double = HTTPCache.wallClock
    ) {
        self.config = config
        self.memory = MemoryStore(maxBytes: config.memory, maxEntries: max(1, config.maxEntries))
        self.l2 = config.l2 ? redis.map { L2Store(client: $0, prefix: keyPrefix, budget: requestBudget) } : nil
        self.logger = logger
        self.clock = clock
        self.stats = CacheStats(memory: memory, limit: config.memory, hasL2: config.l2 && redis != nil)
        self.instanceID = "\(ProcessInfo.processInfo.hostName)-\(getpid())"
    }

    /// A fill lock's value: this instance, and a random part (a token names its holder in `redis-cli`).
    func lockToken() -> String { "\(instanceID)-\(UInt64.random(in: .min ... .max))" }

    /// Whether entries go to Redis too (L2 configured); whether Redis is up right now is ``L2Store/isAvailable``.
    public var hasL2: Bool { l2 != nil }

    public static let wallClock: @Sendable () -> Double = {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// Subscribes to fill, invalidation and purge announcements and reads the purge rules recorded so far; then,
    /// every second, the rules a subscriber may have missed (a reconnect loses what was published meanwhile), and
    /// forgets rules and invalidations no entry can need any more (with or without Redis).
    public func start(on loop: any EventLoop) {
        if let l2 {
            l2.client.subscribe(l2.fillChannel) { [weak self] _, message in self?.l2?.fillAnnounced(String(buffer: message)) }
            l2.client.subscribe(l2.invalidateChannel) { [weak self] _, message in self?.invalidateHere(String(buffer: message)) }
            l2.client.subscribe(l2.purgeChannel) { [weak self] _, message in
                guard let self, let ban = PurgeBan(json: String(buffer: message)) else { return }
                self.apply([ban])
            }
        }
        let task = loop.scheduleRepeatedAsyncTask(initialDelay: .zero, delay: .seconds(1)) { [weak self] _ in
            guard let self else { return loop.makeSucceededVoidFuture() }
            self.forgetOld()
            return self.syncBans(on: loop)
        }
        tasks.withLockedValue { $0.append(task) }
    }

    public func shutdown() {
        let all = tasks.withLockedValue { t in
            defer { t = [] }
            return t
        }
        for task in all { task.cancel() }
    }

    private func forgetOld() {
        let now = clock()
        bans.prune(before: now - retention)
        let horizon = now - invalidationMemory
        recentInvalidations.withLockedValue { $0 = $0.filter { $0.value >= horizon } }
    }

    /// Drops this instance's L1 copies of a URL (`url`: what follows `GET ` in the primary key) and remembers it
    /// for the fills under way.
    func invalidateHere(_ url: String) {
        let primary = "GET " + url
        let now = clock()
        recentInvalidations.withLockedValue { $0[url] = now }
        let removed = memory.removeAll(inGroupOf: primary) { key, _ in Self.primary(ofSlotKey: key) == primary }
        stats.purgedEntries.add(removed)
    }

    /// Whether `url` was invalidated at or after `time` (a fill that began then must not store).
    func invalidated(_ url: Substring, since time: Double) -> Bool {
        recentInvalidations.withLockedValue { $0[String(url)].map { $0 >= time } ?? false }
    }

    /// RFC 9111 §4.4 and purges by URL: every entry of the URL goes, here and (with Redis) in L2 and every
    /// instance's L1. Not a rule: nothing is kept but a short memory for the fills under way.
    public func invalidate(_ url: String, on loop: any EventLoop) -> EventLoopFuture<PurgeOutcome> {
        let before = stats.purgedEntries.value
        invalidateHere(url)
        let removed = stats.purgedEntries.value - before
        guard let l2, l2.isAvailable else { return loop.makeSucceededFuture(PurgeOutcome(scope: "instance", removedHere: removed)) }
        return l2.invalidate(url: url, on: loop).map { PurgeOutcome(scope: "cluster", removedHere: removed) }.recover { [logger] error in
            logger.warning("cache invalidation through Redis failed; this instance only", metadata: ["error": "\(error)"])
            return PurgeOutcome(scope: "instance", removedHere: removed)
        }
    }

    private func syncBans(on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let l2, l2.isAvailable else { return loop.makeSucceededVoidFuture() }
        let now = clock()
        let since = lastBanSync.withLockedValue { $0 }
        let from = since > 0 ? since : now - retention
        return l2.bans(since: from, on: loop).map { [self] bans in
            apply(bans)
            if let newest = bans.map(\.time).max() { lastBanSync.withLockedValue { $0 = max($0, newest) } }
            if since == 0 { lastBanSync.withLockedValue { $0 = max($0, from) } }
        }.recover { _ in }
    }

    /// How long purge rules are kept: as long as any L2 entry can live.
    var retention: Double { Double(config.l2MaxTTL.components.seconds) + 60 }

    /// Carries out purge rules that are new here: drops the L1 entries they cover at once (L2 copies are checked
    /// against the rules when found).
    func apply(_ new: [PurgeBan]) {
        let added = bans.add(new)
        guard !added.isEmpty else { return }
        // Rules are prefixes and tags (a URL purge is an invalidation, not a rule): every shard is looked through.
        let removed = memory.removeAll { key, slot in
            let url = purgeURL(ofPrimary: Self.primary(ofSlotKey: key))
            switch slot {
            case .entry(let entry): return added.contains { $0.matches(url: url, tags: entry.metadata.tags) }
            case .vary, .pass: return added.contains { $0.kind == .prefix && $0.matches(url: url, tags: []) }
            }
        }
        stats.purgedEntries.add(removed)
        stats.purges.add(added.count)
    }

    /// The primary key a slot key belongs to (a variant key is the primary key, `\u{1F}`, and the variant's fields).
    static func primary(ofSlotKey key: String) -> String {
        guard let sep = key.utf8.firstIndex(of: 0x1F) else { return key }
        return String(key[..<sep])
    }

    // MARK: Purging

    /// Purges by URL (`https://host/path?query`: an invalidation), URL prefix or tag (a rule, recorded and published:
    /// every instance drops its L1 copies on receipt and ignores older L2 copies), across the cluster when Redis is
    /// there, else on this instance alone.
    public func purge(_ kind: PurgeBan.Kind, _ value: String, on loop: any EventLoop) -> EventLoopFuture<PurgeOutcome> {
        if kind == .url { return invalidate(value, on: loop) }
        let local = { [self] () -> PurgeOutcome in
            let ban = PurgeBan(kind: kind, value: value, time: clock(), id: UUID().uuidString)
            let before = stats.purgedEntries.value
            apply([ban])
            return PurgeOutcome(scope: "instance", removedHere: stats.purgedEntries.value - before)
        }
        guard let l2, l2.isAvailable else { return loop.makeSucceededFuture(local()) }
        return l2.purge(kind: kind, value: value, retention: retention, on: loop).map { [self] ban in
            let before = stats.purgedEntries.value
            apply([ban])
            return PurgeOutcome(scope: "cluster", removedHere: stats.purgedEntries.value - before)
        }.recover { [self] error in
            logger.warning("cache purge through Redis failed; purged this instance only", metadata: ["error": "\(error)"])
            return local()
        }
    }
}

public struct PurgeOutcome: Sendable {
    /// `cluster` (recorded in Redis and published) or `instance` (Redis absent or down).
    public var scope: String
    /// L1 entries this instance dropped.
    public var removedHere: Int
}
