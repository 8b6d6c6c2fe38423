import Testing

@testable import MeridianCluster

@Suite struct KeyedLRUTests {
    @Test func orderFollowsUseAndSlotsAreReused() {
        var lru = KeyedLRU<Int>()
        lru.insert("a", 1)
        lru.insert("b", 2)
        lru.insert("c", 3)
        #expect(lru.keysByAge == ["a", "b", "c"])
        #expect(lru.update("a") { $0 += 10 } != nil)
        #expect(lru.keysByAge == ["b", "c", "a"] && lru.value(forKey: "a") == 11)
        #expect(lru.update("b", touch: false) { $0 } == 2)
        #expect(lru.keysByAge == ["b", "c", "a"], "an update without touch keeps the order")
        #expect(lru.update("zzz") { $0 } == nil)
        #expect(lru.remove("c") == 3)
        #expect(lru.keysByAge == ["b", "a"] && lru.count == 2)
        lru.insert("d", 4)
        #expect(lru.allocatedSlots == 3, "the removed slot was reused")
        #expect(lru.leastRecentlyUsed?.key == "b")
    }

    @Test func sweepRemovesAndChangesInPlace() {
        var lru = KeyedLRU<Int>()
        for i in 0..<10 { lru.insert("k\(i)", i) }
        let removed = lru.sweep { _, value in
            value *= 2
            return value % 4 == 0  // the even ones
        }
        #expect(removed == 5)
        #expect(lru.keysByAge == ["k1", "k3", "k5", "k7", "k9"])
        #expect(lru.value(forKey: "k3") == 6)
        #expect(lru.sweep { _, _ in true } == 5 && lru.count == 0 && lru.leastRecentlyUsed == nil)
        lru.insert("again", 1)
        #expect(lru.keysByAge == ["again"])
    }
}
