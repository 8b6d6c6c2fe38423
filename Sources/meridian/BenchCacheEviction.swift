import ArgumentParser
import MeridianCache

/// `meridian bench-cache-eviction`: the L1 store's eviction policy (SIEVE) against LRU on Zipf workloads, and the
/// store's hit path in gets per second. Hidden from help: a measuring tool, for the README's cache section.
struct BenchCacheEviction: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-cache-eviction",
        abstract: "Compare SIEVE and LRU hit ratios on Zipf workloads and measure the L1 store's gets/s.",
        shouldDisplay: false
    )

    @Flag(help: "Skip the hit-ratio simulation.")
    var throughputOnly = false

    func run() {
        if !throughputOnly {
            Self.printHitRatios()
            print("")
        }
        Self.printThroughput()
    }
}

extension BenchCacheEviction {
    static func printHitRatios() {
        let keys = 100_000
        let requests = 2_000_000
        print("Hit ratio, \(requests) requests over \(keys) keys (Zipf), seed 42")
        print("zipf  cache   entries   SIEVE    LRU      SIEVE-LRU")
        for exponent in [0.7, 0.9, 1.0, 1.2] {
            for share in [0.01, 0.05, 0.10] {
                let capacity = Int(Double(keys) * share)
                func hitRatio(_ policy: EvictionPolicyKind) -> Double {
                    simulateEviction(
                        policy: policy, keys: keys, requests: requests, zipfExponent: exponent, capacity: capacity,
                        seed: 42)
                }
                let (sieve, lru) = (hitRatio(.sieve), hitRatio(.lru))
                let line = [
                    pad(format(exponent, 1), 6), pad("\(Int(share * 100))%", 8), pad("\(capacity)", 10),
                    pad(format(sieve, 4), 9), pad(format(lru, 4), 9), sign(format(sieve - lru, 4)),
                ]
                print(line.joined())
            }
        }
    }

    static func printThroughput() {
        print("MemoryStore.get, 10000 entries, 90% hits, best of 3 rounds of 2000000 gets per thread")
        print("threads  shards  gets/s (all threads)")
        for threads in [1, 2] {
            for shards in [16, 64, 1] {
                let rate = measureStoreGetThroughput(threads: threads, shards: shards)
                print(pad("\(threads)", 9) + pad("\(shards)", 8) + format(rate / 1e6, 2) + " M")
            }
        }
    }

    static func format(_ value: Double, _ decimals: Int) -> String {
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int((abs(value) * Double(scale)).rounded())
        let fraction = String(scaled % scale)
        let padded = String(repeating: "0", count: decimals - fraction.count) + fraction
        return (value < 0 && scaled != 0 ? "-" : "") + "\(scaled / scale)" + (decimals > 0 ? "." + padded : "")
    }

    static func sign(_ text: String) -> String { text.hasPrefix("-") ? text : "+" + text }

    static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(1, width - text.count))
    }
}
