internal import NIOPosix

/// Trace and span ids without a system call or a shared lock: one wyrand generator per thread,
/// seeded from the system's generator. swift-otel's default generator takes a process-wide lock
/// and calls getrandom(2) per id, which at 100k requests/s is a measurable share of a core.
enum FastRandom {
    private final class State {
        var seed: UInt64
        init() {
            var system = SystemRandomNumberGenerator()
            seed = system.next()
        }
    }

    nonisolated(unsafe) private static let state = ThreadSpecificVariable<State>()  // per-thread values: no sharing

    static func next() -> UInt64 {
        let s = state.value(orMake: State.init)
        s.seed &+= 0xA076_1D64_78BD_642F
        let product = s.seed.multipliedFullWidth(by: s.seed ^ 0xE703_7ED1_A0B4_28DB)
        return product.high ^ product.low
    }

    /// A non-zero 64-bit id.
    static func nonZero() -> UInt64 {
        while true {
            let v = next()
            if v != 0 { return v }
        }
    }
}
