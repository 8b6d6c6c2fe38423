internal import Atomics
internal import NIOConcurrencyHelpers

/// The purge rules this instance knows, newest last; each is dropped once no entry it could cover is still kept.
/// The hit path asks ``isEmpty`` first (one relaxed atomic load): most of the time there is no rule to check.
final class PurgeBans: Sendable {
    private let rules = NIOLockedValueBox<(list: [PurgeBan], ids: Set<String>)>(([], []))
    private let count = ManagedAtomic<Int>(0)
    /// Counts the rules ever added: a fill that saw another generation when it began checks the new rules before it
    /// stores (its response may predate a purge that arrived while it was under way).
    private let generationCounter = ManagedAtomic<Int>(0)

    var isEmpty: Bool { count.load(ordering: .relaxed) == 0 }
    var generation: Int { generationCounter.load(ordering: .acquiring) }

    /// Adds the rules not known yet (by id); returns those.
    @discardableResult
    func add(_ new: [PurgeBan]) -> [PurgeBan] {
        let added: [PurgeBan] = rules.withLockedValue { rules in
            let fresh = new.filter { rules.ids.insert($0.id).inserted }
            rules.list.append(contentsOf: fresh)
            count.store(rules.list.count, ordering: .relaxed)
            return fresh
        }
        if !added.isEmpty { generationCounter.wrappingIncrement(by: added.count, ordering: .releasing) }
        return added
    }

    /// Whether a rule made after `storedAt` covers the entry.
    func covers(url: Substring, tags: [String], storedAt: Double) -> Bool {
        guard !isEmpty else { return false }
        return rules.withLockedValue { rules in
            rules.list.contains { $0.time >= storedAt && $0.matches(url: url, tags: tags) }
        }
    }

    /// Whether a rule added since `generation` covers the entry (whatever its time: the fill began before it).
    func coversSince(_ generation: Int, url: Substring, tags: [String]) -> Bool {
        let now = self.generation
        guard now != generation else { return false }
        let newer = now - generation
        return rules.withLockedValue { rules in
            rules.list.suffix(newer).contains { $0.matches(url: url, tags: tags) }
        }
    }

    /// The time of the newest rule known (0 without one): an L2 entry stored after it is covered by none.
    var newest: Double {
        guard !isEmpty else { return 0 }
        return rules.withLockedValue { $0.list.lazy.map(\.time).max() ?? 0 }
    }

    /// Forgets rules older than `time`: no entry they could cover is kept any longer.
    func prune(before time: Double) {
        rules.withLockedValue { rules in
            let old = rules.list.prefix { $0.time < time }
            guard !old.isEmpty else { return }
            for ban in old { rules.ids.remove(ban.id) }
            rules.list.removeFirst(old.count)
            count.store(rules.list.count, ordering: .relaxed)
        }
    }

    var all: [PurgeBan] { rules.withLockedValue { $0.list } }
}
