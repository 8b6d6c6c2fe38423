/// Least-recently-used order with the same shape as `SieveQueue`, kept as the baseline the eviction simulation
/// measures SIEVE against; no store uses it.
///
/// A hit moves the key to the newest end (an unlink and a relink, the per-hit cost SIEVE avoids); the victim is
/// always the oldest key. The list is threaded through an array of slots by index, as in `SieveQueue`, so the two
/// differ only in policy when the simulation compares them.
struct LRUQueue<Key: Hashable & Sendable>: Sendable {
    private struct Node: Sendable {
        var key: Key?
        /// Towards the least recently used key; on a free slot, the next free slot.
        var older: Int32
        var newer: Int32
    }

    private var nodes: [Node] = []
    private var slots: [Key: Int32] = [:]
    private var newest: Int32 = -1
    private var oldest: Int32 = -1
    private var firstFree: Int32 = -1

    init(minimumCapacity: Int = 0) {
        slots.reserveCapacity(minimumCapacity)
        nodes.reserveCapacity(minimumCapacity)
    }

    var count: Int { slots.count }

    func slot(of key: Key) -> Int? {
        slots[key].map(Int.init)
    }

    func key(at slot: Int) -> Key {
        nodes[slot].key!
    }

    /// Records a hit: the key becomes the most recently used.
    mutating func markVisited(_ slot: Int) {
        let index = Int32(slot)
        guard index != newest else { return }
        unlink(index)
        link(index)
    }

    /// Adds `key` as the most recently used and returns its slot. The key must not be present.
    mutating func insert(_ key: Key) -> Int {
        precondition(slots[key] == nil, "key inserted twice")
        let slot: Int32
        if firstFree >= 0 {
            slot = firstFree
            firstFree = nodes[Int(slot)].older
            nodes[Int(slot)].key = key
        } else {
            precondition(nodes.count < Int(Int32.max), "too many keys for one queue")
            slot = Int32(nodes.count)
            nodes.append(Node(key: key, older: -1, newer: -1))
        }
        link(slot)
        slots[key] = slot
        return Int(slot)
    }

    @discardableResult
    mutating func remove(at slot: Int) -> Key {
        guard let key = nodes[slot].key else { preconditionFailure("slot \(slot) is not in use") }
        unlink(Int32(slot))
        nodes[slot] = Node(key: nil, older: firstFree, newer: -1)
        firstFree = Int32(slot)
        slots[key] = nil
        return key
    }

    /// The least recently used key's slot: the next to evict. `nil` when the queue is empty.
    func victim() -> Int? {
        oldest >= 0 ? Int(oldest) : nil
    }

    mutating func evict() -> Key? {
        oldest >= 0 ? remove(at: Int(oldest)) : nil
    }

    /// Keys from the least to the most recently used (for tests).
    var keysOldestFirst: [Key] {
        var keys: [Key] = []
        var slot = oldest
        while slot >= 0 {
            keys.append(nodes[Int(slot)].key!)
            slot = nodes[Int(slot)].newer
        }
        return keys
    }

    // MARK: - The list

    private mutating func link(_ slot: Int32) {
        nodes[Int(slot)].older = newest
        nodes[Int(slot)].newer = -1
        if newest >= 0 { nodes[Int(newest)].newer = slot } else { oldest = slot }
        newest = slot
    }

    private mutating func unlink(_ slot: Int32) {
        let node = nodes[Int(slot)]
        if node.older >= 0 { nodes[Int(node.older)].newer = node.newer } else { oldest = node.newer }
        if node.newer >= 0 { nodes[Int(node.newer)].older = node.older } else { newest = node.older }
    }
}
