internal import Atomics
internal import NIOConcurrencyHelpers

/// Counters of every rate-limit policy, for `/metrics`: requests allowed and limited, by where the answer came from
/// (`local`, `global`, or `fallback` — the local share while Redis is down).
public final class RateLimitStats: Sendable {
    public struct Sample: Sendable, Equatable {
        public var policy: String
        public var scope: String
        public var result: String
        public var count: Int
    }

    final class Counters: Sendable {
        let allowed = ManagedAtomic<Int>(0)
        let limited = ManagedAtomic<Int>(0)
    }

    private let policies = NIOLockedValueBox<[String: [String: Counters]]>([:])

    public init() {}

    /// The counters of `policy` answered from `scope` (made once per policy and scope, at route build time).
    func counters(policy: String, scope: String) -> Counters {
        policies.withLockedValue { p in
            if let c = p[policy]?[scope] { return c }
            let c = Counters()
            p[policy, default: [:]][scope] = c
            return c
        }
    }

    public func samples() -> [Sample] {
        policies.withLockedValue { $0 }.sorted { $0.key < $1.key }.flatMap { policy, scopes in
            scopes.sorted { $0.key < $1.key }.flatMap { scope, c in
                [
                    Sample(policy: policy, scope: scope, result: "allowed", count: c.allowed.load(ordering: .relaxed)),
                    Sample(policy: policy, scope: scope, result: "limited", count: c.limited.load(ordering: .relaxed)),
                ]
            }
        }
    }
}
