/// A strict RFC 4648 §4 base64 decoder (standard alphabet) for credentials and PHC strings.
///
/// Strict because both callers parse untrusted or hand-edited text: `Authorization: Basic` wants
/// padding (RFC 7617 uses RFC 4648 §4 as is), PHC strings forbid it, and neither has a reason to
/// accept line breaks, the URL-safe alphabet or non-zero bits after the last byte (RFC 4648
/// §3.5) — libargon2 refuses those too, so rejecting them here keeps parse and verify in agreement.
package enum Base64 {
    package enum Padding {
        /// Length a multiple of 4, `=` filling the last quantum (RFC 4648 §4).
        case required
        /// No `=` at all, as the PHC string format writes salts and hashes.
        case forbidden
    }

    /// The decoded bytes, or nil if `text` is not canonical base64 under `padding`.
    package static func decode(_ text: some Collection<UInt8>, padding: Padding) -> [UInt8]? {
        var symbols = Array(text)
        switch padding {
        case .required:
            guard symbols.count % 4 == 0 else { return nil }
            var padCount = 0
            while padCount < 2, symbols.last == UInt8(ascii: "=") {
                symbols.removeLast()
                padCount += 1
            }
            // One `=` leaves 3 symbols in the last quantum, two leave 2; none leaves a full quantum.
            guard symbols.count % 4 == (padCount == 0 ? 0 : 4 - padCount) else { return nil }
        case .forbidden:
            guard symbols.count % 4 != 1 else { return nil }
        }
        var output: [UInt8] = []
        output.reserveCapacity(symbols.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bitCount = 0
        for symbol in symbols {
            guard let value = sextet(symbol) else { return nil }
            accumulator = (accumulator << 6) | value
            bitCount += 6
            if bitCount >= 8 {
                bitCount -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bitCount)))
                accumulator &= (1 << UInt32(bitCount)) - 1
            }
        }
        // Bits left over after the last whole byte must be zero, or two encodings decode alike.
        return accumulator == 0 ? output : nil
    }

    private static func sextet(_ symbol: UInt8) -> UInt32? {
        switch symbol {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(symbol - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(symbol - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(symbol - UInt8(ascii: "0")) + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
