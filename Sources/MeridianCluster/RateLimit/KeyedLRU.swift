/// Values by string key in least-recently-used order: lookup, touch, insert and removal in O(1), and a walk from
/// the least recently used end for sweeps.
///
/// A doubly linked list threaded through an array of slots (indices, not references, so the whole thing is a
/// value and `Sendable`); removed slots are reused before the array grows, so its size never passes the most
/// keys ever held at once. Swift's `Dictionary` hashes with a per-process random seed, so keys an attacker picks
/// cannot be made to collide.
struct KeyedLRU<Value: Sendable>: Sendable {
    private struct Node: Sendable {
        var key: String
        var value: Value?
        var older: Int
        var newer: Int
    }

    private var nodes: [Node] = []
    private var freeSlots: [Int] = []
    private var slots: [String: Int] = [:]
    private var newest = -1
    private var oldest = -1

    init() {}

    var count: Int { slots.count }

    /// Slots allocated, in use or free: the most keys ever held at once (for tests of the bound).
    var allocatedSlots: Int { nodes.count }

    /// Keys from the least to the most recently used (for tests).
    var keysByAge: [String] {
        var keys: [String] = []
        var slot = oldest
        while slot >= 0 {
            keys.append(nodes[slot].key)
            slot = nodes[slot].newer
        }
        return keys
    }

    func value(forKey key: String) -> Value? {
        slots[key].flatMap { nodes[$0].value }
    }

    /// Changes the value of `key` in place and, when `touch` is true, makes it the most recently used.
    /// `nil` when the key is absent.
    mutating func update<R>(_ key: String, touch: Bool = true, _ body: (inout Value) -> R) -> R? {
        guard let slot = slots[key] else { return nil }
        if touch { moveToNewest(slot) }
        return body(&nodes[slot].value!)
    }

    /// Adds `key` as the most recently used; it must not be present.
    mutating func insert(_ key: String, _ value: Value) {
        precondition(slots[key] == nil, "key inserted twice")
        let node = Node(key: key, value: value, older: newest, newer: -1)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            nodes[slot] = node
        } else {
            slot = nodes.count
            nodes.append(node)
        }
        if newest >= 0 { nodes[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
        slots[key] = slot
    }

    @discardableResult
    mutating func remove(_ key: String) -> Value? {
        guard let slot = slots[key] else { return nil }
        return removeSlot(slot).value
    }

    /// The least recently used key and its value.
    var leastRecentlyUsed: (key: String, value: Value)? {
        guard oldest >= 0, let value = nodes[oldest].value else { return nil }
        return (nodes[oldest].key, value)
    }

    /// Visits every entry from the least recently used, letting `body` change it and answer whether to remove it,
    /// without changing the order of the others. Returns how many were removed.
    @discardableResult
    mutating func sweep(_ body: (String, inout Value) -> Bool) -> Int {
        var removed = 0
        var slot = oldest
        while slot >= 0 {
            let next = nodes[slot].newer
            if body(nodes[slot].key, &nodes[slot].value!) {
                removeSlot(slot)
                removed += 1
            }
            slot = next
        }
        return removed
    }

    // MARK: - The list

    @discardableResult
    private mutating func removeSlot(_ slot: Int) -> (key: String, value: Value?) {
        unlink(slot)
        let key = nodes[slot].key
        let value = nodes[slot].value
        slots[key] = nil
        nodes[slot].key = ""  // let the string go now, not when the slot is reused
        nodes[slot].value = nil
        freeSlots.append(slot)
        return (key, value)
    }

    private mutating func moveToNewest(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        nodes[slot].older = newest
        nodes[slot].newer = -1
        if newest >= 0 { nodes[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let older = nodes[slot].older
        let newer = nodes[slot].newer
        if older >= 0 { nodes[older].newer = newer } else { oldest = newer }
        if newer >= 0 { nodes[newer].older = older } else { newest = older }
        nodes[slot].older = -1
        nodes[slot].newer = -1
    }
}
