/// Byte comparison whose running time does not depend on where two inputs first differ.
///
/// A verifier that compares the computed hash with `==` stops at the first differing byte, and the
/// time that takes tells a remote attacker how long a prefix of the stored hash they have matched.
/// Lengths are not secret (a bcrypt hash is always 60 characters), so unequal lengths return early.
enum ConstantTime {
    static func equal(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<lhs.count {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }
}
