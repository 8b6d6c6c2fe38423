/// A small, fast, seedable random number generator (Steele, Lea & Flood, "Fast Splittable
/// Pseudorandom Number Generators", OOPSLA 2014; the variant Java's `SplittableRandom` uses).
///
/// The balancers draw a few random numbers on every request, so the generator must be cheap and
/// must not lock (the system generator is a syscall or a locked buffer on some platforms); and
/// tests need to replay the same draws, so it must be seedable. It is not cryptographic, which no
/// load-balancing decision needs.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
