internal import NIOCore

/// Timeouts of one length for many owners, kept without a scheduled task each. Each is armed at "now + the
/// length", so deadlines arrive in order and a FIFO holds them sorted: the first entry's deadline is the
/// next to fire, and one task scheduled for it serves the whole queue (``ExchangeTimeouts``). A cancel
/// only frees the owner's slot (its entry stays, dead, until it reaches the front or the queue is
/// compacted), so arming and cancelling cost no allocation and no heap operation: a proxied request used
/// to schedule and cancel a task on the event loop for its first-byte timeout (~3 allocations and ~3% of
/// its CPU). Pure: the deadlines are given, nothing here reads a clock.
struct DeadlineQueue<Owner: AnyObject> {
    struct Handle: Equatable {
        fileprivate let slot: Int32
        fileprivate let generation: UInt32
    }

    private struct Slot {
        var owner: Owner?
        var generation: UInt32
    }

    private struct Entry {
        var deadline: NIODeadline
        var slot: Int32
        var generation: UInt32
    }

    private var slots: [Slot] = []
    private var free: [Int32] = []
    private var entries = CircularBuffer<Entry>()
    /// Armed and neither cancelled nor expired.
    private(set) var count = 0

    /// Entries held, dead ones included (for tests of the compaction bound).
    var storedEntries: Int { entries.count }

    /// Arms a timeout for `owner`. A deadline before the last one armed (a clock that went back) is taken as
    /// that one, so the queue stays sorted.
    mutating func arm(_ owner: Owner, at deadline: NIODeadline) -> Handle {
        let slot: Int32
        if let reused = free.popLast() {
            slot = reused
        } else {
            slot = Int32(slots.count)
            slots.append(Slot(owner: nil, generation: 0))
        }
        slots[Int(slot)].owner = owner
        let generation = slots[Int(slot)].generation
        let at = entries.last.map { max($0.deadline, deadline) } ?? deadline
        entries.append(Entry(deadline: at, slot: slot, generation: generation))
        count += 1
        // Dead entries are dropped once they outnumber the live ones 3 to 1: each compaction is paid for by the
        // arms since the last, so the queue's memory follows the timeouts armed, not the requests served.
        if entries.count > 64 && entries.count > 4 * count { compact() }
        return Handle(slot: slot, generation: generation)
    }

    /// Disarms a timeout; nothing happens if it has fired or was cancelled already.
    mutating func cancel(_ handle: Handle) {
        guard isLive(slot: handle.slot, generation: handle.generation) else { return }
        release(handle.slot)
    }

    /// The deadline of the earliest live timeout (dead entries at the front are dropped on the way).
    mutating func nextDeadline() -> NIODeadline? {
        while let first = entries.first {
            if isLive(slot: first.slot, generation: first.generation) { return first.deadline }
            entries.removeFirst()
        }
        return nil
    }

    /// Removes and returns the owners whose deadline is `now` or earlier, earliest first.
    mutating func expire(at now: NIODeadline) -> [Owner] {
        var fired: [Owner] = []
        while let first = entries.first {
            let live = isLive(slot: first.slot, generation: first.generation)
            if live && first.deadline > now { break }
            entries.removeFirst()
            guard live, let owner = slots[Int(first.slot)].owner else { continue }
            release(first.slot)
            fired.append(owner)
        }
        return fired
    }

    private func isLive(slot: Int32, generation: UInt32) -> Bool {
        let s = slots[Int(slot)]
        return s.generation == generation && s.owner != nil
    }

    private mutating func release(_ slot: Int32) {
        slots[Int(slot)].owner = nil
        slots[Int(slot)].generation &+= 1
        free.append(slot)
        count -= 1
    }

    private mutating func compact() {
        var kept = CircularBuffer<Entry>(initialCapacity: max(16, count * 2))
        for entry in entries where isLive(slot: entry.slot, generation: entry.generation) { kept.append(entry) }
        entries = kept
    }
}
