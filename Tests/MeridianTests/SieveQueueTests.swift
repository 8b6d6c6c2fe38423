import Testing

@testable import MeridianCache

/// SIEVE's order on its own: the hand, the visited bits, removals and slot reuse, with no store or lock around it.
@Suite struct SieveQueueTests {
    static func queue(_ keys: String...) -> SieveQueue<String> {
        var queue = SieveQueue<String>()
        for key in keys { _ = queue.insert(key) }
        return queue
    }

    static func visit(_ keys: String..., in queue: inout SieveQueue<String>) {
        for key in keys { queue.markVisited(queue.slot(of: key)!) }
    }

    @Test func keysQueueInInsertionOrderUnvisited() {
        let queue = Self.queue("a", "b", "c")
        #expect(queue.keysOldestFirst == ["a", "b", "c"])
        #expect(queue.count == 3)
        #expect(!queue.isVisited(queue.slot(of: "a")!))
        #expect(queue.keyAtHand == nil, "the first search starts at the oldest key")
        #expect(queue.slot(of: "zzz") == nil)
    }

    @Test func theOldestUnvisitedKeyGoesAndTheHandStaysAfterIt() {
        var queue = Self.queue("a", "b", "c")
        #expect(queue.evict() == "a")
        #expect(queue.keyAtHand == "b", "the hand rests on the victim's newer neighbour")
        #expect(queue.keysOldestFirst == ["b", "c"])
    }

    /// The behaviour the paper's §3 describes, step by step: a hit only sets a bit; the hand clears the bits it
    /// passes, so a visited key survives one pass and not two unless hit again; the hand keeps its place between
    /// evictions instead of going back to the oldest key, and survivors keep theirs in the queue (unlike FIFO with
    /// reinsertion, which moves them to the head); and the hand wraps from the newest key to the oldest.
    @Test func aVisitedKeySurvivesOnePassAndTheHandMovesOnAndWraps() {
        var queue = Self.queue("A", "B", "C", "D", "E", "F", "G")
        Self.visit("A", "B", "G", in: &queue)
        #expect(queue.keysOldestFirst == ["A", "B", "C", "D", "E", "F", "G"], "hits move nothing")

        // The hand passes A and B, clearing their bits, and takes C.
        #expect(queue.evict() == "C")
        #expect(!queue.isVisited(queue.slot(of: "A")!) && !queue.isVisited(queue.slot(of: "B")!))
        #expect(queue.keyAtHand == "D")
        _ = queue.insert("H")

        // A is hit again, but the hand is past it: D goes, then E and F; A's bit waits for the next pass.
        Self.visit("A", in: &queue)
        #expect(queue.evict() == "D")
        #expect(queue.evict() == "E")
        #expect(queue.evict() == "F")
        #expect(queue.keyAtHand == "G")

        // G was visited: the hand clears it, takes H (new and never hit), and runs off the newest end.
        #expect(queue.evict() == "H")
        #expect(queue.keyAtHand == nil)
        #expect(queue.keysOldestFirst == ["A", "B", "G"])

        // Wrapped to the oldest: A survives on its second hit, B (hit once, a pass ago) goes.
        #expect(queue.evict() == "B")
        #expect(!queue.isVisited(queue.slot(of: "A")!), "A's second hit is spent")
        #expect(queue.keyAtHand == "G")
        #expect(queue.evict() == "G")
        #expect(queue.evict() == "A")
        #expect(queue.evict() == nil && queue.count == 0)
    }

    @Test func whenEveryKeyIsVisitedTheHandGoesRoundOnceAndTakesTheFirst() {
        var queue = Self.queue("a", "b", "c")
        Self.visit("a", "b", "c", in: &queue)
        #expect(queue.evict() == "a")
        #expect(!queue.isVisited(queue.slot(of: "b")!) && !queue.isVisited(queue.slot(of: "c")!))
    }

    @Test func aStaleKeyIsTakenEvenWhenVisited() {
        var queue = Self.queue("a", "b", "c")
        Self.visit("a", "b", in: &queue)
        let stale = queue.slot(of: "b")!
        let victim = queue.victim(preferring: { $0 == stale })
        #expect(victim == stale)
        #expect(!queue.isVisited(queue.slot(of: "a")!), "the hand cleared a on the way")
        #expect(queue.remove(at: victim!) == "b")
        #expect(queue.keyAtHand == "c")
    }

    @Test func removingTheKeyUnderTheHandMovesTheHandToItsNewerNeighbour() {
        var queue = Self.queue("a", "b", "c", "d")
        Self.visit("a", in: &queue)
        #expect(queue.evict() == "b")
        #expect(queue.keyAtHand == "c")
        queue.remove(at: queue.slot(of: "c")!)
        #expect(queue.keyAtHand == "d")
        queue.remove(at: queue.slot(of: "d")!)
        #expect(queue.keyAtHand == nil, "off the newest end: the next search starts at the oldest")
        #expect(queue.evict() == "a", "a's bit was cleared by the first pass")
        #expect(queue.isConsistent && queue.count == 0)
    }

    @Test func removingOtherKeysLeavesTheHandAndTheOrder() {
        var queue = Self.queue("a", "b", "c", "d", "e")
        Self.visit("a", in: &queue)
        #expect(queue.evict() == "b")
        queue.remove(at: queue.slot(of: "a")!)  // the oldest
        queue.remove(at: queue.slot(of: "e")!)  // the newest
        #expect(queue.keyAtHand == "c")
        #expect(queue.keysOldestFirst == ["c", "d"])
        _ = queue.insert("f")
        #expect(queue.keysOldestFirst == ["c", "d", "f"])
        #expect(queue.isConsistent)
    }

    @Test func freedSlotsAreReusedBeforeTheArrayGrows() {
        var queue = Self.queue("a", "b", "c")
        let slotB = queue.slot(of: "b")!
        queue.remove(at: slotB)
        #expect(queue.insert("d") == slotB)
        #expect(queue.allocatedSlots == 3)
        _ = queue.evict()
        _ = queue.evict()
        _ = queue.insert("e")
        _ = queue.insert("f")
        #expect(queue.allocatedSlots == 3 && queue.count == 3)
        #expect(queue.keysOldestFirst == ["d", "e", "f"] || queue.keysOldestFirst == ["c", "e", "f"])
        #expect(queue.isConsistent)
    }

    /// Random inserts, hits, evictions and removals against a plain array model of SIEVE from the paper's
    /// pseudocode: the order, the hand and every victim must agree at each step.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func agreesWithAnArrayModel(seed: UInt64) {
        var random = Xoshiro256StarStar(seed: seed)
        var queue = SieveQueue<Int>()
        var model: [(key: Int, visited: Bool)] = []
        var hand: Int?  // an index into `model`
        var nextKey = 0
        for _ in 0..<3000 {
            switch random.next() % 8 {
            case 0, 1, 2:
                _ = queue.insert(nextKey)
                model.append((nextKey, false))
                nextKey += 1
            case 3, 4:
                guard !model.isEmpty else { continue }
                let index = Int(random.next() % UInt64(model.count))
                model[index].visited = true
                queue.markVisited(queue.slot(of: model[index].key)!)
            case 5, 6:
                guard !model.isEmpty else {
                    #expect(queue.evict() == nil)
                    continue
                }
                var index = hand ?? 0
                while model[index].visited {
                    model[index].visited = false
                    index = index + 1 == model.count ? 0 : index + 1
                }
                let expected = model.remove(at: index).key
                hand = index < model.count ? index : nil
                #expect(queue.evict() == expected)
            default:
                guard !model.isEmpty else { continue }
                let index = Int(random.next() % UInt64(model.count))
                let key = model.remove(at: index).key
                if let current = hand, current == index {
                    hand = index < model.count ? index : nil
                } else if let current = hand, current > index {
                    hand = current - 1
                }
                #expect(queue.remove(at: queue.slot(of: key)!) == key)
            }
            #expect(queue.keysOldestFirst == model.map(\.key))
            #expect(queue.keyAtHand == hand.map { model[$0].key })
        }
        #expect(queue.isConsistent)
        #expect(queue.allocatedSlots < nextKey, "slots were reused")
    }
}
