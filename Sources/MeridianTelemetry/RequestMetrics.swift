internal import MeridianCore
internal import NIOConcurrencyHelpers
internal import NIOPosix

/// Request counts, latency histograms and body bytes per (route, method, status, protocol), with
/// the exemplars OpenMetrics shows on latency buckets.
///
/// Each thread records into its own shard under its own lock, which nothing else takes except a
/// scrape: event loops never contend with each other. A scrape merges the shards.
public final class RequestMetrics: Sendable {
    /// Upper bounds of the latency buckets, in seconds (OpenTelemetry's HTTP server buckets with
    /// sub-millisecond ones added: a static file is served in well under a millisecond).
    public static let bounds: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]

    public struct Key: Hashable, Sendable {
        public var route: String
        public var method: String
        public var status: Int
        public var protocolVersion: String
    }

    /// A trace that fell in a bucket: OpenMetrics' exemplar.
    /// Ids are kept as numbers: they become hex only when a scrape shows them.
    public struct Exemplar: Sendable, Equatable {
        public var traceIDHigh: UInt64
        public var traceIDLow: UInt64
        public var spanID: UInt64
        public var value: Double
        /// Seconds since the epoch.
        public var timestamp: Double

        public var traceID: String { TraceContext.hex(traceIDHigh) + TraceContext.hex(traceIDLow) }
        public var spanIDHex: String { TraceContext.hex(spanID) }
    }

    public struct Series: Sendable {
        /// Per bucket (not cumulative); the last is +Inf.
        public var buckets: [UInt64] = Array(repeating: 0, count: RequestMetrics.bounds.count + 1)
        public var count: UInt64 = 0
        public var sum: Double = 0
        public var bytesIn: UInt64 = 0
        public var bytesOut: UInt64 = 0
        public var exemplars: [Exemplar?] = Array(repeating: nil, count: RequestMetrics.bounds.count + 1)

        mutating func merge(_ other: Series) {
            for i in buckets.indices {
                buckets[i] += other.buckets[i]
                if let e = other.exemplars[i], e.timestamp > (exemplars[i]?.timestamp ?? -1) { exemplars[i] = e }
            }
            count += other.count
            sum += other.sum
            bytesIn += other.bytesIn
            bytesOut += other.bytesOut
        }
    }

    final class Shard: @unchecked Sendable {  // `series` and `last` only under `lock`
        let lock = NIOLock()
        var series: [Key: Series] = [:]
        /// The series the shard's previous request went to (most requests on a loop repeat the one before): found
        /// by comparing keys, without hashing the route's, method's and version's strings. Dropped whenever
        /// `series` gains a key (which may move its entries) and, to be safe, when it is copied out.
        var last: (key: Key, index: Dictionary<Key, Series>.Index)?
    }

    private let shards = NIOLockedValueBox<[Shard]>([])
    private let local = ThreadSpecificVariable<Shard>()
    /// Series beyond this many per shard are folded into one overflow series, so a misbehaving
    /// client cannot grow memory without bound (method and status are already bounded).
    let maxSeriesPerShard: Int

    public init(maxSeriesPerShard: Int = 10_000) {
        self.maxSeriesPerShard = maxSeriesPerShard
    }

    private var shard: Shard {
        local.value(orMake: {
            let s = Shard()
            shards.withLockedValue { $0.append(s) }
            return s
        })
    }

    public func record(_ key: Key, seconds: Double, bytesIn: Int, bytesOut: Int, exemplar: Exemplar?) {
        let bucket = Self.bucketIndex(seconds)
        let shard = self.shard
        shard.lock.withLock {
            if let last = shard.last, last.key == key {
                shard.series.values[last.index].add(bucket: bucket, seconds: seconds, bytesIn: bytesIn, bytesOut: bytesOut, exemplar: exemplar)
                return
            }
            if let i = shard.series.index(forKey: key) {
                shard.series.values[i].add(bucket: bucket, seconds: seconds, bytesIn: bytesIn, bytesOut: bytesOut, exemplar: exemplar)
                shard.last = (key, i)
                return
            }
            shard.last = nil
            let key = shard.series.count < maxSeriesPerShard ? key : Key(route: "overflow", method: "_OTHER", status: 0, protocolVersion: "")
            shard.series[key, default: Series()].add(bucket: bucket, seconds: seconds, bytesIn: bytesIn, bytesOut: bytesOut, exemplar: exemplar)
        }
    }

    /// The merged series of every shard.
    public func snapshot() -> [Key: Series] {
        let all = shards.withLockedValue { $0 }
        var merged: [Key: Series] = [:]
        for shard in all {
            let copy = shard.lock.withLock {
                shard.last = nil  // the next write copies `series` (it is shared with `copy` now)
                return shard.series
            }
            for (key, series) in copy { merged[key, default: Series()].merge(series) }
        }
        return merged
    }

    static func bucketIndex(_ seconds: Double) -> Int {
        var lo = 0
        var hi = bounds.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if seconds <= bounds[mid] { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// The `q` quantile (0...1) of per-bucket counts, interpolated linearly inside the bucket as
    /// Prometheus' histogram_quantile does; nil without observations.
    public static func quantile(_ q: Double, buckets: [UInt64]) -> Double? {
        let total = buckets.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = q * Double(total)
        var cumulative: UInt64 = 0
        for (i, n) in buckets.enumerated() {
            let before = cumulative
            cumulative += n
            if Double(cumulative) >= rank, n > 0 {
                if i == bounds.count { return bounds[bounds.count - 1] }
                let lower = i == 0 ? 0 : bounds[i - 1]
                let upper = bounds[i]
                return lower + (upper - lower) * (rank - Double(before)) / Double(n)
            }
        }
        return bounds[bounds.count - 1]
    }
}

extension RequestMetrics.Series {
    mutating func add(bucket: Int, seconds: Double, bytesIn: Int, bytesOut: Int, exemplar: RequestMetrics.Exemplar?) {
        buckets[bucket] &+= 1
        count &+= 1
        sum += seconds
        self.bytesIn &+= UInt64(max(0, bytesIn))
        self.bytesOut &+= UInt64(max(0, bytesOut))
        if let exemplar { exemplars[bucket] = exemplar }
    }
}
