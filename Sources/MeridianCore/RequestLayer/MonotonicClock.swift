public import NIOCore

/// A monotonic `Clock` whose `Instant` is a plain value of this package: `CLOCK_MONOTONIC`, as `NIODeadline` reads
/// it, as a `Duration` since that clock's origin.
///
/// Why not `ContinuousClock`: the standard library is built for library evolution and `ContinuousClock.Instant` is
/// not `@frozen`, so outside the library every use of it (a copy, an `Optional` of it, `advanced(by:)`, `<`, `now`) goes
/// through its type's value witnesses and opaque calls. On the request path (the HTTP/1.1 timeouts, the proxy's
/// breakers, outlier detection and balancer) that showed in profiles as metadata lookups and `memcpy` calls for a
/// 16-byte value. This `Instant` is a frozen `Duration`: copies, comparisons and arithmetic are inline integer code.
/// It also shares `NIODeadline`'s clock, so ``LoopClock`` reads the system once for both.
public struct MonotonicClock: Clock, Sendable {
    public struct Instant: InstantProtocol, Hashable, Sendable {
        /// Since `CLOCK_MONOTONIC`'s origin (boot, on Linux).
        public var offset: Duration

        public init(offset: Duration) { self.offset = offset }

        /// The instant of `deadline` (same clock).
        public init(_ deadline: NIODeadline) {
            self.offset = .nanoseconds(Int64(truncatingIfNeeded: deadline.uptimeNanoseconds))
        }

        @inlinable public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        @inlinable public func duration(to other: Instant) -> Duration { other.offset - offset }
        @inlinable public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
        @inlinable public static func - (lhs: Instant, rhs: Instant) -> Duration { lhs.offset - rhs.offset }
        @inlinable public static func + (lhs: Instant, rhs: Duration) -> Instant { Instant(offset: lhs.offset + rhs) }
        @inlinable public static func - (lhs: Instant, rhs: Duration) -> Instant { Instant(offset: lhs.offset - rhs) }

        /// `MonotonicClock.now`.
        public static var now: Instant { MonotonicClock.now }
    }

    public init() {}

    public static var now: Instant { Instant(NIODeadline.now()) }
    public var now: Instant { Self.now }
    public var minimumResolution: Duration { .nanoseconds(1) }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await Task.sleep(for: Self.now.duration(to: deadline), tolerance: tolerance)
    }
}
