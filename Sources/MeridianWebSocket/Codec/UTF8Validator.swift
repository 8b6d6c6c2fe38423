import NIOCore

/// Incremental UTF-8 validation (RFC 3629 §4) for text that arrives in pieces.
///
/// RFC 6455 §8.1 fails the connection on a text message that is not UTF-8, and §5.6 lets an endpoint do so as soon as
/// the bytes seen so far cannot start valid UTF-8, so the validator checks each fragment as it arrives and remembers
/// only what the next byte may be. A character split across fragments is fine; an overlong form, a surrogate
/// (U+D800–DFFF) or a code point above U+10FFFF fails at the first byte that rules it in, as RFC 3629's table of
/// well-formed sequences has it.
struct UTF8Validator: Sendable {
    /// Continuation bytes still expected for the current character.
    private var remaining = 0
    /// The range the next continuation byte must be in: narrower than 0x80...0xBF right after E0, ED, F0 and F4.
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// No character is cut short: the text seen so far ends on a character boundary.
    var isComplete: Bool { remaining == 0 }

    /// Whether the whole of `bytes` is valid UTF-8.
    static func isValid(_ bytes: ByteBuffer) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(bytes) && validator.isComplete
    }

    /// Takes the next piece of text: false as soon as a byte cannot be part of valid UTF-8.
    mutating func validate(_ bytes: ByteBuffer) -> Bool {
        bytes.withUnsafeReadableBytes { validate($0) }
    }

    /// Takes the next piece of text: false as soon as a byte cannot be part of valid UTF-8.
    mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            if remaining == 0 {
                // ASCII runs go eight bytes at a time.
                while index + 8 <= count,
                    bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
                {
                    index += 8
                }
                guard index < count else { break }
            }
            let byte = bytes[index]
            index += 1
            if remaining > 0 {
                guard byte >= lower && byte <= upper else { return false }
                remaining -= 1
                lower = 0x80
                upper = 0xBF
                continue
            }
            switch byte {
            case 0x00...0x7F:
                continue
            case 0xC2...0xDF:
                remaining = 1
            case 0xE0:
                remaining = 2
                lower = 0xA0  // below is an overlong 3-byte form
            case 0xED:
                remaining = 2
                upper = 0x9F  // above is a surrogate, U+D800–DFFF
            case 0xE1...0xEC, 0xEE...0xEF:
                remaining = 2
            case 0xF0:
                remaining = 3
                lower = 0x90  // below is an overlong 4-byte form
            case 0xF1...0xF3:
                remaining = 3
            case 0xF4:
                remaining = 3
                upper = 0x8F  // above is past U+10FFFF
            default:
                // A stray continuation byte, an overlong 2-byte lead (C0, C1), or F5–FF.
                return false
            }
        }
        return true
    }
}
