import Testing

@testable import MeridianCluster

/// Batched global limits: an instance's ledger of leased tokens, with the Redis side played by a token bucket.
@Suite struct LeaseLedgerTests {
    typealias Ledger = LeaseLedger<ManualClock>

    static let configuration = Ledger.Configuration(batch: 10, lowWater: 3, leaseTTL: .seconds(1), maxKeys: 100)

    @Test func aColdKeyLeasesOnceWhileOthersWait() {
        let clock = ManualClock()
        var ledger = Ledger(Self.configuration)
        #expect(ledger.take(key: "k", at: clock.now) == .mustLease(want: 10))
        #expect(ledger.take(key: "k", at: clock.now) == .waitingForLease, "one lease in flight per key")
        ledger.granted(key: "k", tokens: 10, retryAfter: nil, at: clock.now)
        #expect(ledger.take(key: "k", at: clock.now) == .allowed(inHand: 9))
        #expect(ledger.take(key: "k", at: clock.now) == .allowed(inHand: 8))
    }

    @Test func refillsInTheBackgroundAtTheLowWaterMarkUpToTheBatch() {
        let clock = ManualClock()
        var ledger = Ledger(Self.configuration)
        _ = ledger.take(key: "k", at: clock.now)
        ledger.granted(key: "k", tokens: 10, retryAfter: nil, at: clock.now)
        for left in (4...9).reversed() { #expect(ledger.take(key: "k", at: clock.now) == .allowed(inHand: left)) }
        #expect(ledger.take(key: "k", at: clock.now) == .allowedAndRefill(inHand: 3, want: 7))
        #expect(ledger.take(key: "k", at: clock.now) == .allowed(inHand: 2), "the refill is already in flight")
        ledger.granted(key: "k", tokens: 7, retryAfter: nil, at: clock.now)
        #expect(ledger.tokensInHand(key: "k") == 9, "never more than the batch")
    }

    @Test func theHandRunsDryWhileTheRefillIsInFlight() {
        let clock = ManualClock()
        var ledger = Ledger(.init(batch: 2, lowWater: 0))
        _ = ledger.take(key: "k", at: clock.now)
        ledger.granted(key: "k", tokens: 2, retryAfter: nil, at: clock.now)
        #expect(ledger.take(key: "k", at: clock.now) == .allowed(inHand: 1))
        #expect(ledger.take(key: "k", at: clock.now) == .allowedAndRefill(inHand: 0, want: 2))
        #expect(ledger.take(key: "k", at: clock.now) == .waitingForLease)
    }

    @Test func aRefusalIsRememberedUntilItsRetryAfter() {
        var clock = ManualClock()
        var ledger = Ledger(Self.configuration)
        _ = ledger.take(key: "k", at: clock.now)
        ledger.granted(key: "k", tokens: 0, retryAfter: .seconds(2), at: clock.now)
        #expect(ledger.take(key: "k", at: clock.now) == .refused(retryAfter: .seconds(2)))
        clock.advance(by: .milliseconds(1500))
        #expect(ledger.take(key: "k", at: clock.now) == .refused(retryAfter: .milliseconds(500)))
        clock.advance(by: .milliseconds(500))
        #expect(ledger.take(key: "k", at: clock.now) == .mustLease(want: 10))
    }

    @Test func aPartialGrantIsSpentThenTheRefusalStands() {
        var clock = ManualClock()
        var ledger = Ledger(Self.configuration)
        _ = ledger.take(key: "k", at: clock.now)
        ledger.granted(key: "k", tokens: 2, retryAfter: nil, at: clock.now)
        #expect(ledger.take(key: "k", at: clock.now) == .allowedAndRefill(inHand: 1, want: 9))
        ledger.granted(key: "k", tokens: 0, retryAfter: .seconds(1), at: clock.now)
        #expect(ledger.take(key: "k", at: clock.now) == .allowed(inHand: 0), "no refill asked while refused")
        #expect(ledger.take(key: "k", at: clock.now) == .refused(retryAfter: .seconds(1)))
        clock.advance(by: .seconds(1))
        #expect(ledger.take(key: "k", at: clock.now) == .mustLease(want: 10))
    }

    @Test func aFailedLeaseLetsTheKeyAskAgain() {
        let clock = ManualClock()
        var ledger = Ledger(Self.configuration)
        _ = ledger.take(key: "k", at: clock.now)
        ledger.leaseFailed(key: "k", at: clock.now)
        #expect(ledger.take(key: "k", at: clock.now) == .mustLease(want: 10))
    }

    @Test func tokensHeldPastTheTTLGoBackAndIdleKeysAreForgotten() {
        var clock = ManualClock()
        var ledger = Ledger(Self.configuration)
        _ = ledger.take(key: "idle", at: clock.now)
        ledger.granted(key: "idle", tokens: 10, retryAfter: nil, at: clock.now)
        _ = ledger.take(key: "idle", at: clock.now)
        _ = ledger.take(key: "busy", at: clock.now)
        clock.advance(by: .milliseconds(600))
        ledger.granted(key: "busy", tokens: 10, retryAfter: nil, at: clock.now)
        #expect(ledger.expired(at: clock.now) == [])
        clock.advance(by: .milliseconds(400))
        #expect(ledger.expired(at: clock.now) == [Ledger.Unused(key: "idle", tokens: 9)])
        #expect(ledger.count == 1, "idle held nothing more and was forgotten")
        #expect(ledger.take(key: "idle", at: clock.now) == .mustLease(want: 10))
        clock.advance(by: .milliseconds(600))
        #expect(ledger.expired(at: clock.now) == [Ledger.Unused(key: "busy", tokens: 10)], "TTL from its grant")
    }

    @Test func aRefusedKeyIsKeptUntilTheRefusalEnds() {
        var clock = ManualClock()
        var ledger = Ledger(Self.configuration)
        _ = ledger.take(key: "k", at: clock.now)
        ledger.granted(key: "k", tokens: 0, retryAfter: .seconds(5), at: clock.now)
        clock.advance(by: .seconds(2))
        #expect(ledger.expired(at: clock.now) == [] && ledger.count == 1)
        clock.advance(by: .seconds(3))
        #expect(ledger.expired(at: clock.now) == [] && ledger.count == 0)
    }

    @Test func manyKeysStayBoundedAndEvictedTokensGoBack() {
        let clock = ManualClock()
        var ledger = Ledger(Self.configuration)  // maxKeys 100
        for i in 0..<10_000 {
            let key = "key-\(i)"
            #expect(ledger.take(key: key, at: clock.now) == .mustLease(want: 10))
            ledger.granted(key: key, tokens: 10, retryAfter: nil, at: clock.now)
            #expect(ledger.take(key: key, at: clock.now) == .allowed(inHand: 9))
        }
        #expect(ledger.count == 100 && ledger.allocatedSlots == 100)
        #expect(ledger.evictedCount == 9_900)
        let unused = ledger.expired(at: clock.now)
        #expect(unused.count == 9_900 && unused.allSatisfy { $0.tokens == 9 })
        #expect(ledger.expired(at: clock.now) == [], "handed out once")
    }

    @Test func aGrantForAnEvictedKeyGoesBack() {
        let clock = ManualClock()
        var ledger = Ledger(.init(batch: 5, lowWater: 1, maxKeys: 1))
        _ = ledger.take(key: "a", at: clock.now)
        _ = ledger.take(key: "b", at: clock.now)  // evicts a, whose lease is in flight
        ledger.granted(key: "a", tokens: 5, retryAfter: nil, at: clock.now)
        #expect(ledger.expired(at: clock.now) == [Ledger.Unused(key: "a", tokens: 5)])
    }

    /// The documented bound, measured: 4 instances, each offered a request every millisecond for 20 s, against a
    /// global 100 per second (burst 100); grants arrive 2 ms after they are asked for. Over every 1 s window the
    /// cluster admits at most the quota (burst + a second's refill) plus instances × batch, and close to the rate
    /// overall.
    @Test func overshootStaysWithinInstancesTimesBatch() {
        var clock = ManualClock()
        let quota = RateLimitQuota(rate: 100, per: .seconds(1))
        var redis = TokenBucket<ManualClock>(quota, now: clock.now)
        let instances = 4
        let batch = 10
        var ledgers = Array(repeating: Ledger(.init(batch: batch, lowWater: 3)), count: instances)
        var pending: [(due: ManualClock.Instant, instance: Int, want: Int)] = []
        var admittedPerMillisecond: [Int] = []

        for _ in 0..<20_000 {
            for (index, lease) in pending.enumerated().reversed() where lease.due <= clock.now {
                pending.remove(at: index)
                let available = redis.tokens(at: clock.now)
                let granted = min(lease.want, available)
                if granted > 0 { _ = redis.take(granted, at: clock.now) }
                let retryAfter = granted == 0 ? redis.peek(1, at: clock.now).retryAfter : nil
                ledgers[lease.instance].granted(key: "k", tokens: granted, retryAfter: retryAfter, at: clock.now)
            }
            var admitted = 0
            for instance in 0..<instances {
                switch ledgers[instance].take(key: "k", at: clock.now) {
                case .allowed:
                    admitted += 1
                case .allowedAndRefill(_, let want):
                    admitted += 1
                    pending.append((clock.now.advanced(by: .milliseconds(2)), instance, want))
                case .mustLease(let want):
                    pending.append((clock.now.advanced(by: .milliseconds(2)), instance, want))
                case .waitingForLease, .refused:
                    break
                }
                #expect(ledgers[instance].tokensInHand(key: "k") <= batch)
            }
            admittedPerMillisecond.append(admitted)
            clock.advance(by: .milliseconds(1))
        }

        let window = 1000
        var inWindow = admittedPerMillisecond[0..<window].reduce(0, +)
        var worst = inWindow
        for end in window..<admittedPerMillisecond.count {
            inWindow += admittedPerMillisecond[end] - admittedPerMillisecond[end - window]
            worst = max(worst, inWindow)
        }
        let quotaPerWindow = quota.burst + quota.rate  // GCRA over 1 s: the burst plus a second's refill
        #expect(worst <= quotaPerWindow + instances * batch)
        let total = admittedPerMillisecond.reduce(0, +)
        #expect(total >= 100 + 19 * 100 - instances * batch, "no starving: about the rate overall")
        #expect(total <= 100 + 20 * 100)
    }
}
