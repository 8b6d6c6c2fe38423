/// A balancer for one cluster on one event loop.
///
/// Each event loop has its own connection pools and its own balancer (as Envoy has one per worker
/// thread), so a balancer is a class confined to its loop and needs no locks; it is deliberately
/// not `Sendable`. It is also pure: no I/O and no clock reads. The proxy tells it what happened
/// (`started`, `finished`, with the time) and asks it to choose (`pick`), so every policy can be
/// tested by replaying events.
///
/// Indices are positions in `endpoints`. A balancer is rebuilt when the endpoint list changes;
/// calls with an index out of range (a request that started on the previous balancer) are ignored.
public protocol LoadBalancer: AnyObject {
    /// The endpoints this balancer chooses among, in the order the indices refer to.
    var endpoints: [BalancerEndpoint] { get }

    /// Picks an endpoint index among those `isEligible` allows (healthy, not ejected, breaker
    /// closed, not already tried by this request); nil when none is eligible.
    ///
    /// `hash` is the request's key for the hashing policies (nil = no key: they fall back to a
    /// weighted random choice); the other policies ignore it. `isEligible` must answer the same
    /// for an index throughout one call; a balancer may ask about an index more than once.
    func pick(hash: UInt64?, isEligible: (Int) -> Bool) -> Int?

    /// A request to `endpoint` started (outstanding + 1).
    func started(_ endpoint: Int)

    /// A request to `endpoint` finished (outstanding - 1). `latency` is the time to the first
    /// response byte when the try got a response (it feeds the latency estimate), nil when it
    /// failed before one. `now` is a monotonic time since an arbitrary origin, used only to decay
    /// latency estimates (evaluated only by the policies that keep them: a clock read the others
    /// would pay on every request for nothing).
    func finished(_ endpoint: Int, latency: Duration?, now: @autoclosure () -> Duration)
}

extension LoadBalancer {
    /// Picks without a hash key; for the policies that do not hash.
    public func pick(isEligible: (Int) -> Bool) -> Int? {
        pick(hash: nil, isEligible: isEligible)
    }
}
