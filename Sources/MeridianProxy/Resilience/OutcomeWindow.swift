/// Success and failure counts over the last few time buckets, as a fixed ring: the breaker counts every request
/// to its upstream, so recording one allocates nothing and costs a few integer operations.
///
/// This is resilience4j's time-based sliding window (`SlidingTimeWindowMetrics`: one partial aggregation per
/// epoch second, reset lazily when its slot is reused). Buckets are numbered by the caller (whole bucket widths
/// since an origin), which keeps this type free of clocks.
struct OutcomeWindow: Sendable {
    private struct Slot: Sendable {
        var bucket: Int
        var successes: Int
        var failures: Int
    }

    /// A bucket number no real bucket has: unused slots never count.
    private static let unused = Int.min

    private var slots: [Slot]
    private var newest = 0

    init(buckets: Int) {
        precondition(buckets >= 1)
        slots = Array(repeating: Slot(bucket: Self.unused, successes: 0, failures: 0), count: buckets)
    }

    /// Counts one outcome in `bucket`. An outcome reported with an older time than one already counted goes into
    /// the newest bucket: times from one event loop only go forward, and a late one must not resurrect a slot that
    /// has rolled off.
    mutating func add(failed: Bool, bucket: Int) {
        let bucket = max(bucket, newest)
        newest = bucket
        let index = bucket % slots.count
        if slots[index].bucket != bucket {
            slots[index] = Slot(bucket: bucket, successes: 0, failures: 0)
        }
        if failed {
            slots[index].failures += 1
        } else {
            slots[index].successes += 1
        }
    }

    /// The counts of the window that ends with `bucket` (that bucket and the `buckets - 1` before it).
    func counts(bucket: Int) -> (successes: Int, failures: Int) {
        let oldest = bucket - slots.count
        var successes = 0
        var failures = 0
        for slot in slots where slot.bucket > oldest && slot.bucket <= bucket {
            successes += slot.successes
            failures += slot.failures
        }
        return (successes, failures)
    }

    /// Forgets everything, as on every state change (resilience4j resets its metrics on each transition).
    mutating func reset() {
        for index in slots.indices {
            slots[index] = Slot(bucket: Self.unused, successes: 0, failures: 0)
        }
    }
}
