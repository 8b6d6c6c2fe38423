public import Atomics
public import NIOConcurrencyHelpers

/// What the channels did, for `/metrics`: per route pattern (never a raw channel name, whose set is
/// unbounded), plus the fan-out latency histogram.
public final class ChannelStats: Sendable {
    /// One route's counters (its label is the route's pattern, like `/ws/:channel`).
    public final class Route: Sendable {
        public let protocolName: String
        public let open = ManagedAtomic<Int>(0)
        public let opened = ManagedAtomic<Int>(0)
        public let messagesIn = ManagedAtomic<Int>(0)
        public let messagesOut = ManagedAtomic<Int>(0)
        /// Messages dropped for a slow client (`drop_oldest`), and clients closed for being slow.
        public let dropped = ManagedAtomic<Int>(0)
        public let closedSlow = ManagedAtomic<Int>(0)
        /// Connections told to go at shutdown (1001 / the SSE stream ended).
        public let closedDraining = ManagedAtomic<Int>(0)
        /// Connections closed for a protocol violation (1002, 1007, 1009) or a missed pong.
        public let closedProtocol = ManagedAtomic<Int>(0)

        init(protocolName: String) { self.protocolName = protocolName }
    }

    /// Upper bounds (seconds) of the fan-out latency buckets: publish → delivered to this instance's subscribers.
    public static let latencyBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    public let latencyBuckets: [ManagedAtomic<Int>] = ChannelStats.latencyBounds.map { _ in ManagedAtomic<Int>(0) } + [ManagedAtomic<Int>(0)]
    public let latencyMicroseconds = ManagedAtomic<Int>(0)
    public let latencyCount = ManagedAtomic<Int>(0)
    /// Messages published (from clients and the publish API) through Redis to the cluster, and those that went
    /// only to this instance (no Redis, or Redis unreachable or too slow for the call). Each publish is counted
    /// once it is settled, in one of the two.
    public let publishedCluster = ManagedAtomic<Int>(0)
    public let publishedLocalOnly = ManagedAtomic<Int>(0)
    private let routes = NIOLockedValueBox<[String: Route]>([:])

    public init() {}

    /// The counters of the route with this label, made on first use.
    public func route(_ label: String, protocolName: String) -> Route {
        routes.withLockedValue { r in
            if let existing = r[label] { return existing }
            let made = Route(protocolName: protocolName)
            r[label] = made
            return made
        }
    }

    public var allRoutes: [(label: String, route: Route)] {
        routes.withLockedValue { $0.map { ($0.key, $0.value) }.sorted { $0.label < $1.label } }
    }

    func recordLatency(microseconds: Int64) {
        let us = max(0, Int(microseconds))
        let seconds = Double(us) / 1e6
        let index = Self.latencyBounds.firstIndex { seconds <= $0 } ?? Self.latencyBounds.count
        latencyBuckets[index].wrappingIncrement(ordering: .relaxed)
        latencyMicroseconds.wrappingIncrement(by: us, ordering: .relaxed)
        latencyCount.wrappingIncrement(ordering: .relaxed)
    }
}
