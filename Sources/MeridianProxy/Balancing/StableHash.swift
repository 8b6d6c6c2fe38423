/// A 64-bit hash that is the same in every process, on every machine and in every release:
/// FNV-1a 64 over the bytes, then MurmurHash3's `fmix64` finaliser.
///
/// Several proxy instances behind one L4 balancer must send a client to the same endpoint, and a
/// restart must not reshuffle every session, so a key must hash identically everywhere. Swift's
/// `Hasher` is seeded per process (to resist hash flooding) and cannot be used. FNV-1a alone mixes
/// short keys such as `10.0.0.1:8080` and `10.0.0.2:8080` poorly in the high bits, which ring
/// positions and Maglev offsets depend on; `fmix64` makes every input bit affect every output bit.
///
/// FNV: <http://www.isthe.com/chongo/tech/comp/fnv/>; fmix64: MurmurHash3 (Appleby, public domain).
public enum StableHash {
    static let fnvOffsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01B3

    /// Hashes a byte sequence (a header value, a cookie, an address).
    public static func hash<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        mix(fnv1a(bytes))
    }

    /// Hashes the UTF-8 bytes of `string`: the same value `hash(Array(string.utf8))` gives.
    public static func hash(_ string: String) -> UInt64 {
        hash(string.utf8)
    }

    /// Plain FNV-1a 64, kept separate so the tests can check it against the published vectors.
    static func fnv1a<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h = fnvOffsetBasis
        for byte in bytes {
            h = (h ^ UInt64(byte)) &* fnvPrime
        }
        return h
    }

    /// MurmurHash3's 64-bit finaliser: a bijection with full avalanche. Also used to derive a
    /// second, independent-looking hash from a first one (Maglev's skip).
    static func mix(_ value: UInt64) -> UInt64 {
        var k = value
        k ^= k >> 33
        k &*= 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33
        k &*= 0xC4CE_B9FE_1A85_EC53
        k ^= k >> 33
        return k
    }
}
