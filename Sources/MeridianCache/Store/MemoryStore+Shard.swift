extension MemoryStore {
    /// One shard's entries and bounds: a pure state machine, not thread-safe, which `MemoryStore` keeps behind the
    /// shard's lock.
    ///
    /// Each operation reports what it changed in a `Tally` instead of touching the store's counters itself, so the
    /// shard can be tested alone and the store decides how the counters are published.
    struct Shard: Sendable {
        struct Entry: Sendable {
            /// `nil` while the slot is free, so a removed value is released at once.
            var value: Value?
            var cost: Int
            var expiresAt: Double
        }

        /// Changes to the store-wide statistics made by one operation.
        struct Tally {
            var bytes = 0
            var count = 0
            var evictions = 0
            var expirations = 0
        }

        let maxBytes: Int
        let maxEntries: Int
        private(set) var bytes = 0
        private var queue: SieveQueue<HashedKey>
        /// Indexed by the queue's slots.
        private var entries: [Entry] = []
        /// The latest `now` a `get` has passed in. `put` is not given the time, and this is a safe stand-in for it:
        /// it never runs ahead of the callers' clock, so an entry it calls expired is expired; and a fill's `put`
        /// follows a missing `get` on the same key, hence on this shard, moments before.
        private var latestNow = -Double.infinity

        init(maxBytes: Int, maxEntries: Int) {
            self.maxBytes = maxBytes
            self.maxEntries = maxEntries
            // Enough to skip the first rehashes without reserving a large bound up front.
            self.queue = SieveQueue(minimumCapacity: min(maxEntries, 1024))
        }

        var count: Int { queue.count }

        mutating func get(_ key: HashedKey, now: Double, tally: inout Tally) -> Value? {
            if now > latestNow { latestNow = now }
            guard let slot = queue.slot(of: key) else { return nil }
            if now < entries[slot].expiresAt {
                queue.markVisited(slot)
                return entries[slot].value
            }
            drop(slot, tally: &tally)
            tally.expirations += 1
            return nil
        }

        /// Stores `value`, first making room by expiry and then by SIEVE. A replacement is a removal and a fresh
        /// insertion: it goes to the newest end unvisited, and the hand can never pick the entry being stored.
        mutating func put(_ key: HashedKey, _ value: Value, cost: Int, expiresAt: Double, tally: inout Tally) -> Bool {
            precondition(cost >= 0, "negative cost \(cost) for \(key.string)")
            if let old = queue.slot(of: key) { drop(old, tally: &tally) }
            // An entry that cannot fit is refused, and the one it replaces stays gone: it has been superseded.
            guard cost <= maxBytes else { return false }
            while queue.count >= maxEntries || bytes + cost > maxBytes {
                let now = latestNow
                guard let slot = queue.victim(preferring: { entries[$0].expiresAt <= now }) else { break }
                if entries[slot].expiresAt <= now { tally.expirations += 1 } else { tally.evictions += 1 }
                drop(slot, tally: &tally)
            }
            let slot = queue.insert(key)
            let entry = Entry(value: value, cost: cost, expiresAt: expiresAt)
            if slot == entries.count { entries.append(entry) } else { entries[slot] = entry }
            bytes += cost
            tally.bytes += cost
            tally.count += 1
            return true
        }

        mutating func remove(_ key: HashedKey, tally: inout Tally) -> Bool {
            guard let slot = queue.slot(of: key) else { return false }
            drop(slot, tally: &tally)
            return true
        }

        /// Removes the entries `shouldRemove` picks, walking from the oldest; returns how many.
        mutating func removeAll(where shouldRemove: (String, Value) -> Bool, tally: inout Tally) -> Int {
            var removed = 0
            var next = queue.oldestSlot
            while let slot = next {
                next = queue.slot(newerThan: slot)
                if shouldRemove(queue.key(at: slot).string, entries[slot].value!) {
                    drop(slot, tally: &tally)
                    removed += 1
                }
            }
            return removed
        }

        /// The sum of the costs of the entries present, counted afresh (for tests of the running totals).
        var recountedBytes: Int {
            var total = 0
            var next = queue.oldestSlot
            while let slot = next {
                total += entries[slot].cost
                next = queue.slot(newerThan: slot)
            }
            return total
        }

        var isConsistent: Bool { queue.isConsistent && recountedBytes == bytes }

        private mutating func drop(_ slot: Int, tally: inout Tally) {
            queue.remove(at: slot)
            let cost = entries[slot].cost
            entries[slot].value = nil
            bytes -= cost
            tally.bytes -= cost
            tally.count -= 1
        }
    }
}
