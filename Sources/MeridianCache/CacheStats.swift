internal import Atomics
internal import NIOConcurrencyHelpers

/// What the cache did, for `/metrics` and the status page: lookups by tier and result, bytes stored, collapsed
/// requests, lock waits, purges. Relaxed atomics: the hit path adds to one counter.
public final class CacheStats: Sendable {
    public final class Counter: Sendable {
        private let atomic = ManagedAtomic<Int>(0)
        public var value: Int { atomic.load(ordering: .relaxed) }
        public func add(_ n: Int = 1) { atomic.wrappingIncrement(by: n, ordering: .relaxed) }
    }

    /// What a lookup ended as, per tier: `hit`, `stale` (served stale: while revalidating or on an error), `miss`,
    /// `revalidated` (a 304 from the origin refreshed it), `pass` (not cacheable), `bypass` (the request said so, or
    /// the method is not cached), `error` (the tier failed: Redis unreachable or slow).
    public enum Result: String, Sendable, CaseIterable {
        case hit, stale, miss, revalidated, pass, bypass, error
    }

    /// One cached route's lookups (the route pattern or name is the label, never a raw path).
    public final class RouteCounters: Sendable {
        public let route: String
        private let l1Results = Result.allCases.map { _ in Counter() }
        private let l2Results = Result.allCases.map { _ in Counter() }

        init(route: String) { self.route = route }

        public func lookup(_ tier: CacheTier, _ result: Result) {
            (tier == .l1 ? l1Results : l2Results)[Result.allCases.firstIndex(of: result)!].add()
        }

        public func lookups(_ tier: CacheTier, _ result: Result) -> Int {
            (tier == .l1 ? l1Results : l2Results)[Result.allCases.firstIndex(of: result)!].value
        }
    }

    private let routeCounters = NIOLockedValueBox<[String: RouteCounters]>([:])

    /// The counters of a route, made on first use (a reload keeps a route's counts).
    public func route(_ name: String) -> RouteCounters {
        routeCounters.withLockedValue { all in
            if let c = all[name] { return c }
            let c = RouteCounters(route: name)
            all[name] = c
            return c
        }
    }

    public var routes: [RouteCounters] { routeCounters.withLockedValue { Array($0.values) }.sorted { $0.route < $1.route } }

    /// Every route's lookups of one tier and result.
    public func lookups(_ tier: CacheTier, _ result: Result) -> Int {
        routes.reduce(0) { $0 + $1.lookups(tier, result) }
    }

    /// Bytes written to Redis (bodies and metadata).
    public let l2BytesStored = Counter()
    public let l2Stores = Counter()
    /// Requests that waited for another request's fill (here, or on another instance through the lock).
    public let collapsed = Counter()
    /// Times this instance waited for another instance's fill lock.
    public let lockWaits = Counter()
    /// Waits that ran out (the holder died or was slow): the waiter went to the origin.
    public let lockTimeouts = Counter()
    public let backgroundRefreshes = Counter()
    /// Purge rules applied here, and the L1 entries they dropped.
    public let purges = Counter()
    public let purgedEntries = Counter()
    /// Responses that were too long to store.
    public let tooLarge = Counter()

    /// The L1 store, for its bytes, entries and evictions.
    let memory: MemoryStore<L1Slot>

    public var l1Bytes: Int { memory.bytes }
    public var l1Entries: Int { memory.count }
    public var l1Evictions: Int { memory.evictions }
    public let l1Limit: Int
    /// Whether entries also go to Redis.
    public let hasL2: Bool

    init(memory: MemoryStore<L1Slot>, limit: Int, hasL2: Bool) {
        self.memory = memory
        self.l1Limit = limit
        self.hasL2 = hasL2
    }
}
