/// Strict base64url decoding for JOSE compact serialisation (RFC 7515 §2, RFC 4648 §5).
///
/// JOSE omits the `=` padding, so padding is rejected rather than tolerated. Leftover bits in
/// the last character must be zero: otherwise several encodings would decode to the same bytes
/// and a token could be altered without changing what it verifies as (a non-canonical
/// signature segment would still "verify"), which confuses replay caches and audit logs.
enum Base64URL {
    /// Decodes `input`, or returns `nil` if it is not canonical unpadded base64url.
    static func decode(_ input: ArraySlice<UInt8>) -> [UInt8]? {
        let remainder = input.count % 4
        if remainder == 1 { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3 + 2)

        let table = Self.table
        var accumulator: UInt32 = 0
        var bitCount = 0
        for byte in input {
            let value = table[Int(byte)]
            if value == Self.invalid { return nil }
            accumulator = (accumulator << 6) | UInt32(value)
            bitCount += 6
            if bitCount >= 8 {
                bitCount -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bitCount)))
                accumulator &= (1 << UInt32(bitCount)) - 1
            }
        }
        // 2 or 4 bits may be left over; they carry no data and must be zero.
        guard accumulator == 0 else { return nil }
        return output
    }

    /// Encodes `bytes` without padding; used for building tokens in tests and benchmarks.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var output: [UInt8] = []
        var accumulator: UInt32 = 0
        var bitCount = 0
        for byte in bytes {
            accumulator = (accumulator << 8) | UInt32(byte)
            bitCount += 8
            while bitCount >= 6 {
                bitCount -= 6
                output.append(alphabet[Int((accumulator >> UInt32(bitCount)) & 0x3F)])
            }
            accumulator &= (1 << UInt32(bitCount)) - 1
        }
        if bitCount > 0 {
            output.append(alphabet[Int((accumulator << UInt32(6 - bitCount)) & 0x3F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static let invalid: UInt8 = 0xFF

    /// Maps an ASCII byte to its 6-bit value; `invalid` for everything outside the URL alphabet.
    private static let table: [UInt8] = {
        var table = [UInt8](repeating: invalid, count: 256)
        for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8.enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        return table
    }()
}
