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

    private let access = NIOLockedValueBox<[String: AccessCounters]>([:])
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
