/// Walks a hash table forward from a key's slot to the first eligible endpoint, for the ring (the
/// next point clockwise) and for Maglev (the next slot).
///
/// Walking forward moves only the keys of the endpoints that are ineligible: a key whose own
/// endpoint is eligible stops at its first slot, so keys of healthy endpoints never move when
/// another one goes down (and come back to the same place when it returns). The endpoints that
/// follow a dead one's slots are scattered by the hash, so its keys spread over the others.
///
/// The walk remembers which endpoints it has found ineligible, so it asks about each at most once
/// and stops as soon as all have been refused, instead of crossing 100,000 ring points when every
/// endpoint is down. The marks are cleared in O(1) by moving to a new generation; the per-loop
/// balancer owns this scratch space, so a pick allocates nothing.
struct ForwardProbe {
    private var marks: [UInt32]
    private var generation: UInt32 = 0

    init(endpointCount: Int) {
        self.marks = Array(repeating: 0, count: endpointCount)
    }

    /// The first endpoint at or after `start` in `owners` (wrapping) that `isEligible` accepts.
    mutating func firstEligible(in owners: [Int32], from start: Int, isEligible: (Int) -> Bool) -> Int? {
        guard owners.indices.contains(start) else { return nil }
        let first = Int(owners[start])
        if isEligible(first) {
            return first
        }
        beginWalk()
        marks[first] = generation
        var refused = 1
        var slot = start
        for _ in 1..<owners.count {
            slot += 1
            if slot == owners.count {
                slot = 0
            }
            let endpoint = Int(owners[slot])
            if marks[endpoint] == generation {
                continue
            }
            if isEligible(endpoint) {
                return endpoint
            }
            marks[endpoint] = generation
            refused += 1
            if refused == marks.count {
                return nil
            }
        }
        return nil
    }

    private mutating func beginWalk() {
        generation &+= 1
        if generation == 0 {
            for i in marks.indices {
                marks[i] = 0
            }
            generation = 1
        }
    }
}
