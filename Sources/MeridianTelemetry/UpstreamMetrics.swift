internal import Atomics
internal import NIOConcurrencyHelpers
internal import NIOPosix

/// What the proxy's tries and events add up to, per cluster and endpoint: requests by status
/// class, a latency histogram with exemplars, ejections and breaker transitions, and per cluster
/// the retries and the retries the budget refused. The gauges (active requests, connections,
/// health, breaker state) are read from the clusters at scrape time instead.
///
/// Label values are the configured cluster names and endpoints only (never a path), so the
/// series are bounded by the configuration. A try costs a thread-local dictionary lookup for its
/// endpoint's handle and a few relaxed atomic increments: no lock, nothing shared written except
/// the counters themselves. Only a sampled try takes a lock, to keep its exemplar.
public final class UpstreamMetrics: Sendable {
    /// The `status_class` label values; a try that got no response is `error`.
    public static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"]
    /// The breaker states, in the order of ``Endpoint/transitions``.
    public static let breakerStates = ["closed", "open", "half_open"]

    struct Key: Hashable, Sendable {
        var cluster: String
        var endpoint: String
    }

    /// One endpoint's counters; handed to the event loops once and then only incremented.
    public final class Endpoint: Sendable {
        public let cluster: String
        public let endpoint: String
        /// By ``UpstreamMetrics/statusClasses``.
        let requests: [ManagedAtomic<Int>]
        /// Per bucket of ``RequestMetrics/bounds`` (not cumulative); the last is +Inf.
        let buckets: [ManagedAtomic<Int>]
        let sumNanoseconds = ManagedAtomic<Int>(0)
        let ejections = ManagedAtomic<Int>(0)
        /// Transitions into each of ``UpstreamMetrics/breakerStates``.
        let transitions: [ManagedAtomic<Int>]
        let exemplars: NIOLockedValueBox<[RequestMetrics.Exemplar?]>

        init(cluster: String, endpoint: String) {
            self.cluster = cluster
            self.endpoint = endpoint
            requests = UpstreamMetrics.statusClasses.map { _ in ManagedAtomic(0) }
            buckets = (0...RequestMetrics.bounds.count).map { _ in ManagedAtomic(0) }
            transitions = UpstreamMetrics.breakerStates.map { _ in ManagedAtomic(0) }
            exemplars = NIOLockedValueBox(Array(repeating: nil, count: RequestMetrics.bounds.count + 1))
        }

        /// One finished try: `statusClass` indexes ``UpstreamMetrics/statusClasses``.
        func record(statusClass: Int, nanoseconds: Int, exemplar: RequestMetrics.Exemplar?) {
            requests[statusClass].wrappingIncrement(ordering: .relaxed)
            let bucket = RequestMetrics.bucketIndex(Double(nanoseconds) / 1e9)
            buckets[bucket].wrappingIncrement(ordering: .relaxed)
            sumNanoseconds.wrappingIncrement(by: nanoseconds, ordering: .relaxed)
            if let exemplar { exemplars.withLockedValue { $0[bucket] = exemplar } }
        }

        func breakerTransition(to state: String) {
            guard let i = UpstreamMetrics.breakerStates.firstIndex(of: state) else { return }
            transitions[i].wrappingIncrement(ordering: .relaxed)
        }

        /// What a scrape or a status tick reads.
        struct Snapshot {
            var requests: [Int]
            var buckets: [UInt64]
            var sum: Double
            var count: Int
            var ejections: Int
            var transitions: [Int]
            var exemplars: [RequestMetrics.Exemplar?]
        }

        func snapshot() -> Snapshot {
            let buckets = self.buckets.map { UInt64(max(0, $0.load(ordering: .relaxed))) }
            return Snapshot(
                requests: requests.map { $0.load(ordering: .relaxed) }, buckets: buckets,
                sum: Double(sumNanoseconds.load(ordering: .relaxed)) / 1e9, count: Int(buckets.reduce(0, +)),
                ejections: ejections.load(ordering: .relaxed),
                transitions: transitions.map { $0.load(ordering: .relaxed) },
                exemplars: exemplars.withLockedValue { $0 }
            )
        }
    }

    /// One cluster's counters of retry events.
    public final class Cluster: Sendable {
        public let name: String
        let retries = ManagedAtomic<Int>(0)
        let budgetExhausted = ManagedAtomic<Int>(0)

        init(name: String) { self.name = name }
    }

    /// An event loop's own map from names to handles: after its first try at an endpoint, a
    /// thread finds the handle without a lock.
    final class LocalHandles: @unchecked Sendable {  // only ever touched by the thread it belongs to
        var endpoints: [Key: Endpoint] = [:]
        var clusters: [String: Cluster] = [:]
    }

    private let endpoints = NIOLockedValueBox<[Key: Endpoint]>([:])
    private let clusters = NIOLockedValueBox<[String: Cluster]>([:])
    private let local = ThreadSpecificVariable<LocalHandles>()

    public init() {}

    private var localHandles: LocalHandles { local.value(orMake: { LocalHandles() }) }

    /// The handle of `endpoint` in `cluster`, made on first use.
    func endpoint(cluster: String, endpoint: String) -> Endpoint {
        let key = Key(cluster: cluster, endpoint: endpoint)
        let handles = localHandles
        if let handle = handles.endpoints[key] { return handle }
        let handle = endpoints.withLockedValue { all in
            if let existing = all[key] { return existing }
            let new = Endpoint(cluster: cluster, endpoint: endpoint)
            all[key] = new
            return new
        }
        handles.endpoints[key] = handle
        return handle
    }

    func cluster(_ name: String) -> Cluster {
        let handles = localHandles
        if let handle = handles.clusters[name] { return handle }
        let handle = clusters.withLockedValue { all in
            if let existing = all[name] { return existing }
            let new = Cluster(name: name)
            all[name] = new
            return new
        }
        handles.clusters[name] = handle
        return handle
    }

    /// Every endpoint seen so far, by cluster and endpoint.
    func allEndpoints() -> [Endpoint] {
        endpoints.withLockedValue { Array($0.values) }.sorted { ($0.cluster, $0.endpoint) < ($1.cluster, $1.endpoint) }
    }

    func allClusters() -> [Cluster] {
        clusters.withLockedValue { Array($0.values) }.sorted { $0.name < $1.name }
    }

    /// The index in ``statusClasses`` of a try's outcome.
    static func statusClass(_ status: Int?) -> Int {
        guard let status, (100...599).contains(status) else { return 5 }
        return status / 100 - 1
    }
}
