internal import Atomics
public import MeridianRedis
internal import NIOConcurrencyHelpers

/// What the Redis client reports, counted for `/metrics`: round-trip times, commands by result, reconnects, pub/sub
/// messages by channel, and transitions into and out of degraded mode.
public final class RedisTelemetry: RedisObserver {
    static let results = ["ok", "error", "timeout", "unavailable", "closed"]
    let commands: [ManagedAtomic<Int>] = RedisTelemetry.results.map { _ in ManagedAtomic(0) }
    /// Per bucket of ``RequestMetrics/bounds`` (not cumulative); the last is +Inf. Commands that got an answer only.
    let buckets: [ManagedAtomic<Int>] = (0...RequestMetrics.bounds.count).map { _ in ManagedAtomic(0) }
    let sumNanoseconds = ManagedAtomic<Int>(0)
    let reconnects = ManagedAtomic<Int>(0)
    let degradedTransitions = ManagedAtomic<Int>(0)
    let degraded = ManagedAtomic<Bool>(false)
    let messages = NIOLockedValueBox<[String: Int]>([:])

    public init() {}

    public func redisCommand(result: String, seconds: Double) {
        let i = Self.results.firstIndex(of: result) ?? Self.results.count - 1
        commands[i].wrappingIncrement(ordering: .relaxed)
        guard result == "ok" || result == "error" else { return }
        let bucket = RequestMetrics.bounds.firstIndex { seconds <= $0 } ?? RequestMetrics.bounds.count
        buckets[bucket].wrappingIncrement(ordering: .relaxed)
        sumNanoseconds.wrappingIncrement(by: Int(seconds * 1e9), ordering: .relaxed)
    }

    public func redisReconnected(node: String) {
        reconnects.wrappingIncrement(ordering: .relaxed)
    }

    public func redisPubSubMessage(channel: String) {
        messages.withLockedValue { $0[channel, default: 0] += 1 }
    }

    public func redisStateChanged(degraded: Bool, reason: String?) {
        self.degraded.store(degraded, ordering: .relaxed)
        if degraded { degradedTransitions.wrappingIncrement(ordering: .relaxed) }
    }
}
