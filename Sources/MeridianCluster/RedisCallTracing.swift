public import MeridianCore

/// CLIENT spans for the Redis calls a request waits on (an `exact` global limit, a cold key's first lease): the
/// background calls (breaker batches, refills, heartbeats) have no request to belong to and get none.
public protocol RedisCallTracing: Sendable {
    /// Starts a CLIENT span under the request's SERVER span; nil when the request is not sampled. Call the returned
    /// closure once, with the error type when the call failed.
    func startRedisSpan(trace: TraceContext?, operation: String, server: (host: String, port: Int), policy: String)
        -> (@Sendable (_ error: String?) -> Void)?
}
