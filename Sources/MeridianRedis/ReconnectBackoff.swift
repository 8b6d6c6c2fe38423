/// How long to wait before the next connection attempt: exponential from `base`, capped at `max`, with "full
/// jitter" (a uniformly random wait between zero and the capped exponential), so a fleet of instances that lost
/// Redis together does not reconnect in lock step (AWS Architecture Blog, "Exponential Backoff And Jitter").
///
/// Pure: the caller passes the random source and resets it once a connection is up.
public struct ReconnectBackoff: Sendable {
    public let base: Duration
    public let max: Duration
    public private(set) var failures = 0

    public init(base: Duration = .milliseconds(50), max: Duration = .seconds(2)) {
        precondition(base > .zero && max >= base, "backoff needs 0 < base <= max")
        self.base = base
        self.max = max
    }

    /// The wait after one more failed attempt.
    public mutating func next(using random: inout some RandomNumberGenerator) -> Duration {
        failures += 1
        let ceiling = self.ceiling(after: failures)
        let nanos = ceiling.nanoseconds
        // Never less than a tenth of the base: a zero wait would spin when the server refuses at once.
        let floor = base.nanoseconds / 10
        return .nanoseconds(Int64.random(in: floor...Swift.max(floor, nanos), using: &random))
    }

    /// The cap of the wait after `failures` failures: `base × 2^(failures-1)`, at most `max`.
    public func ceiling(after failures: Int) -> Duration {
        let shift = Swift.min(Swift.max(failures - 1, 0), 30)
        let grown = base.nanoseconds.multipliedReportingOverflow(by: Int64(1) << shift)
        return grown.overflow ? max : .nanoseconds(Swift.min(grown.partialValue, max.nanoseconds))
    }

    public mutating func reset() { failures = 0 }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (s, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return s &+ attoseconds / 1_000_000_000
    }
}
