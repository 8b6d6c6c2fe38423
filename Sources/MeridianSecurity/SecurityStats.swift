internal import Atomics
internal import NIOConcurrencyHelpers

/// Counters of the security middleware, for `/metrics`: requests refused by address rules, and authentication
/// results per authenticator.
public final class SecurityStats: Sendable {
    final class AccessCounters: Sendable {
        let listener = ManagedAtomic<Int>(0)
        let route = ManagedAtomic<Int>(0)
    }

    public struct AccessSample: Sendable, Equatable {
        public var route: String
        public var scope: String
        public var count: Int
    }

    public struct AuthSample: Sendable, Equatable {
        public var authenticator: String
        public var result: String
        public var count: Int
    }

    final class WAFCounters: Sendable {
        let passed = ManagedAtomic<Int>(0)
        let detected = ManagedAtomic<Int>(0)
        let blocked = ManagedAtomic<Int>(0)
        let overloaded = ManagedAtomic<Int>(0)
        /// Inspections of the route waiting for or on the inspection pool.
        let inFlight = ManagedAtomic<Int>(0)
    }

    public struct WAFSample: Sendable, Equatable {
        public var route: String
        public var result: String
        public var count: Int
    }

    private let access = NIOLockedValueBox<[String: AccessCounters]>([:])
    private let waf = NIOLockedValueBox<[String: WAFCounters]>([:])
    /// Matches per CRS rule id: a bounded set (the rules loaded), counted when a request matches (rarely).
    private let wafRules = NIOLockedValueBox<[Int: Int]>([:])
    private let auth = NIOLockedValueBox<[String: [String: ManagedAtomic<Int>]]>([:])

    public init() {}

    func accessCounters(route: String) -> AccessCounters {
        access.withLockedValue { a in
            if let c = a[route] { return c }
            let c = AccessCounters()
            a[route] = c
            return c
        }
    }

    /// The counters of `authenticator`, one per result it can end in (`ok`, `missing`, `invalid`, …): made when
    /// routes are built, so counting a request takes no lock.
    func authCounters(_ authenticator: String, results: [String]) -> [String: ManagedAtomic<Int>] {
        auth.withLockedValue { a in
            for result in results where a[authenticator]?[result] == nil { a[authenticator, default: [:]][result] = ManagedAtomic<Int>(0) }
            return a[authenticator] ?? [:]
        }
    }

    func wafCounters(route: String) -> WAFCounters {
        waf.withLockedValue { w in
            if let c = w[route] { return c }
            let c = WAFCounters()
            w[route] = c
            return c
        }
    }

    func countWAFRules(_ ids: [Int]) {
        wafRules.withLockedValue { r in for id in ids { r[id, default: 0] += 1 } }
    }

    public func wafSamples() -> [WAFSample] {
        waf.withLockedValue { $0 }.sorted { $0.key < $1.key }.flatMap { route, c in
            [
                WAFSample(route: route, result: "passed", count: c.passed.load(ordering: .relaxed)),
                WAFSample(route: route, result: "detected", count: c.detected.load(ordering: .relaxed)),
                WAFSample(route: route, result: "blocked", count: c.blocked.load(ordering: .relaxed)),
                WAFSample(route: route, result: "overloaded", count: c.overloaded.load(ordering: .relaxed)),
            ]
        }
    }

    /// Matches by rule id, most frequent first.
    public func wafRuleSamples() -> [(rule: Int, count: Int)] {
        wafRules.withLockedValue { $0 }.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    public func accessSamples() -> [AccessSample] {
        access.withLockedValue { $0 }.sorted { $0.key < $1.key }.flatMap { route, c in
            [
                AccessSample(route: route, scope: "listener", count: c.listener.load(ordering: .relaxed)),
                AccessSample(route: route, scope: "route", count: c.route.load(ordering: .relaxed)),
            ]
        }
    }

    public func authSamples() -> [AuthSample] {
        auth.withLockedValue { $0 }.sorted { $0.key < $1.key }.flatMap { name, results in
            results.sorted { $0.key < $1.key }.map { AuthSample(authenticator: name, result: $0.key, count: $0.value.load(ordering: .relaxed)) }
        }
    }
}
