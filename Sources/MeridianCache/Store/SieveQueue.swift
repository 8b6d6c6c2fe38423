/// The SIEVE eviction order (Zhang et al., "SIEVE is Simpler than LRU: an Efficient Turn-Key Eviction Algorithm
/// for Web Caches", NSDI '24): a FIFO queue of keys, a visited bit per key, and a hand that looks for the victim.
///
/// A hit only sets the key's bit: no list movement, so under a lock it costs a dictionary lookup and one write,
/// where LRU must unlink and relink on every hit. To evict, the hand walks from the oldest key towards the newest,
/// clearing the bits it passes, and stops at the first key whose bit is clear; it stays there for the next
/// eviction and wraps round to the oldest when it runs off the newest end. New keys go in at the newest end and
/// so meet the hand last; keys that were never hit again are the first to go (quick demotion of one-hit wonders),
/// and a popular key survives each pass of the hand as long as it was hit since the last one.
///
/// The list is threaded through an array of slots by index, not through class nodes: no allocation or reference
/// counting per key, and the whole queue is a value, so its owner guards it with one lock. Freed slots are reused
/// before the array grows. Slot numbers are stable while a key is present, so the owner can keep per-key data in
/// an array indexed by slot. Not thread-safe: `MemoryStore` wraps one per shard in that shard's lock.
struct SieveQueue<Key: Hashable & Sendable>: Sendable {
    private struct Node: Sendable {
        /// `nil` while the slot is free (so a removed key is released at once, not when the slot is reused).
        var key: Key?
        /// Towards the oldest key; on a free slot, the next free slot.
        var older: Int32
        /// Towards the newest key.
        var newer: Int32
        var visited: Bool
    }

    private var nodes: [Node] = []
    private var slots: [Key: Int32] = [:]
    private var newest: Int32 = -1
    private var oldest: Int32 = -1
    /// Where the next search for a victim starts; -1 means at the oldest key.
    private var hand: Int32 = -1
    private var firstFree: Int32 = -1

    init(minimumCapacity: Int = 0) {
        slots.reserveCapacity(minimumCapacity)
        nodes.reserveCapacity(minimumCapacity)
    }

    var count: Int { slots.count }

    var isEmpty: Bool { slots.isEmpty }

    /// Slots allocated, in use or free: the most keys ever held at once (for tests of slot reuse).
    var allocatedSlots: Int { nodes.count }

    func slot(of key: Key) -> Int? {
        slots[key].map(Int.init)
    }

    func key(at slot: Int) -> Key {
        nodes[slot].key!
    }

    func isVisited(_ slot: Int) -> Bool {
        nodes[slot].visited
    }

    /// Records a hit. The write is skipped when the bit is already set, so a hot key's node is not dirtied again.
    mutating func markVisited(_ slot: Int) {
        if !nodes[slot].visited { nodes[slot].visited = true }
    }

    /// Adds `key` at the newest end, not visited, and returns its slot. The key must not be present.
    mutating func insert(_ key: Key) -> Int {
        precondition(slots[key] == nil, "key inserted twice")
        let node = Node(key: key, older: newest, newer: -1, visited: false)
        let slot: Int32
        if firstFree >= 0 {
            slot = firstFree
            firstFree = nodes[Int(slot)].older
            nodes[Int(slot)] = node
        } else {
            precondition(nodes.count < Int(Int32.max), "too many keys for one queue")
            slot = Int32(nodes.count)
            nodes.append(node)
        }
        if newest >= 0 { nodes[Int(newest)].newer = slot } else { oldest = slot }
        newest = slot
        slots[key] = slot
        return Int(slot)
    }

    /// Removes the key in `slot`. If the hand is on it, the hand moves to the next newer key, exactly where it
    /// would go after evicting that key, so removals by the owner (expiry, purge, replacement) do not disturb the
    /// order in which the hand visits the rest.
    @discardableResult
    mutating func remove(at slot: Int) -> Key {
        let index = Int32(slot)
        let node = nodes[slot]
        guard let key = node.key else { preconditionFailure("slot \(slot) is not in use") }
        if hand == index { hand = node.newer }
        if node.older >= 0 { nodes[Int(node.older)].newer = node.newer } else { oldest = node.newer }
        if node.newer >= 0 { nodes[Int(node.newer)].older = node.older } else { newest = node.older }
        nodes[slot] = Node(key: nil, older: firstFree, newer: -1, visited: false)
        firstFree = index
        slots[key] = nil
        return key
    }

    /// Moves the hand to the next key to evict and returns its slot, without removing it (the owner removes it with
    /// `remove(at:)`, after reading what it keeps for that slot). `nil` when the queue is empty.
    ///
    /// A key for which `isStale` answers true is taken wherever the hand meets it, visited or not: an expired entry
    /// is worth nothing however often it was hit. Otherwise this is SIEVE's search. It ends within two passes: the
    /// first clears every bit it crosses.
    mutating func victim(preferring isStale: (Int) -> Bool = { _ in false }) -> Int? {
        guard oldest >= 0 else { return nil }
        var slot = hand >= 0 ? hand : oldest
        while true {
            if isStale(Int(slot)) || !nodes[Int(slot)].visited {
                hand = slot
                return Int(slot)
            }
            nodes[Int(slot)].visited = false
            slot = nodes[Int(slot)].newer
            if slot < 0 { slot = oldest }
        }
    }

    /// Evicts by SIEVE alone and returns the key evicted.
    mutating func evict() -> Key? {
        guard let slot = victim() else { return nil }
        return remove(at: slot)
    }

    // MARK: - Walks and inspection

    /// The oldest key's slot, where a walk over every key starts.
    var oldestSlot: Int? { oldest >= 0 ? Int(oldest) : nil }

    /// The slot after `slot` towards the newest end; `nil` at the newest key.
    func slot(newerThan slot: Int) -> Int? {
        let newer = nodes[slot].newer
        return newer >= 0 ? Int(newer) : nil
    }

    /// Keys from the oldest to the newest (for tests).
    var keysOldestFirst: [Key] {
        var keys: [Key] = []
        var slot = oldestSlot
        while let current = slot {
            keys.append(key(at: current))
            slot = self.slot(newerThan: current)
        }
        return keys
    }

    /// The key under the hand, or `nil` when the next search starts at the oldest key (for tests).
    var keyAtHand: Key? { hand >= 0 ? nodes[Int(hand)].key : nil }

    /// Whether the links, the index and the free list agree (for tests): walking both ways meets every key once.
    var isConsistent: Bool {
        var forward = 0
        var slot = oldest
        var previous: Int32 = -1
        while slot >= 0, forward <= nodes.count {
            let node = nodes[Int(slot)]
            guard node.older == previous, let key = node.key, slots[key] == slot else { return false }
            forward += 1
            previous = slot
            slot = node.newer
        }
        var free = 0
        slot = firstFree
        while slot >= 0, free <= nodes.count {
            guard nodes[Int(slot)].key == nil else { return false }
            free += 1
            slot = nodes[Int(slot)].older
        }
        let handValid = hand < 0 || nodes[Int(hand)].key != nil
        return previous == newest && forward == slots.count && forward + free == nodes.count && handValid
    }
}
