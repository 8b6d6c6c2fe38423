/// A clock that moves only when a test says so, for the state machines' injected clocks.
struct ManualClock: Clock {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    var now = Instant(offset: .zero)
    var minimumResolution: Duration { .nanoseconds(1) }

    mutating func advance(by duration: Duration) { now = now.advanced(by: duration) }
    /// Time going backwards, as a wall clock stepped by NTP would; the limiters must not trust it.
    mutating func rewind(by duration: Duration) { now = now.advanced(by: .zero - duration) }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        throw CancellationError()  // nothing here sleeps: tests move the clock themselves
    }
}
