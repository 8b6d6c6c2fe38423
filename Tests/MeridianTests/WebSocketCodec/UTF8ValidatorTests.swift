import NIOCore
import Testing

@testable import MeridianWebSocket

@Suite("UTF8Validator")
struct UTF8ValidatorTests {
    private func isValid(_ bytes: [UInt8]) -> Bool {
        UTF8Validator.isValid(ByteBuffer(bytes: bytes))
    }

    /// The standard library's own UTF-8 decoder, as the reference.
    private func decodes(_ bytes: [UInt8]) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    @Test(
        "valid text, from ASCII to the largest code point",
        arguments: [
            [], Array("hello, world, long enough for the eight-byte path".utf8), Array("κόσμε".utf8),
            [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF],
            [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], Array("a😀b".utf8),
        ] as [[UInt8]])
    func valid(bytes: [UInt8]) {
        #expect(isValid(bytes))
    }

    @Test(
        "invalid: overlongs, surrogates, past U+10FFFF, stray and truncated bytes",
        arguments: [
            [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x9F, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF],  // overlong
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],  // surrogates
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF],  // past U+10FFFF
            [0x80], [0xBF], [0xC2, 0x41], [0xE1, 0x80, 0x41],  // stray or missing continuation
            [0xC2], [0xE1, 0x80], [0xF0, 0x90, 0x80],  // truncated
            Array("twelve bytes".utf8) + [0xFE],  // after an ASCII run
        ] as [[UInt8]])
    func invalid(bytes: [UInt8]) {
        #expect(!isValid(bytes))
    }

    @Test("every 4-byte character is accepted split at every point")
    func split() {
        let bytes = Array("x😀y€z".utf8)
        for first in 0...bytes.count {
            for second in first...bytes.count {
                var validator = UTF8Validator()
                let result1 = validator.validate(ByteBuffer(bytes: Array(bytes[..<first])))
                #expect(result1)
                let result2 = validator.validate(ByteBuffer(bytes: Array(bytes[first..<second])))
                #expect(result2)
                let result3 = validator.validate(ByteBuffer(bytes: Array(bytes[second...])))
                #expect(result3)
                #expect(validator.isComplete)
            }
        }
    }

    @Test("an invalid byte fails in the piece it is in, before the text ends")
    func failsEarly() {
        var validator = UTF8Validator()
        let result4 = validator.validate(ByteBuffer(bytes: [0xF0]))
        #expect(result4)
        #expect(!validator.isComplete)
        let result5 = validator.validate(ByteBuffer(bytes: [0x8F]))
        #expect(!result5)  // F0 8F: overlong, known at the second byte
    }

    @Test("agrees with the standard library on all 1- and 2-byte inputs")
    func exhaustive() {
        for first in 0...255 {
            #expect(isValid([UInt8(first)]) == decodes([UInt8(first)]))
            for second in 0...255 {
                let bytes = [UInt8(first), UInt8(second)]
                #expect(isValid(bytes) == decodes(bytes))
            }
        }
    }

    @Test("agrees with the standard library on 3-byte inputs from E0–F4 leads")
    func threeBytes() {
        for first in 0xE0...0xF4 {
            for second in stride(from: 0x70, through: 0xC0, by: 1) {
                for third in [0x41, 0x80, 0xBF, 0xC0] {
                    let bytes = [UInt8(first), UInt8(second), UInt8(third)]
                    #expect(isValid(bytes) == decodes(bytes))
                }
            }
        }
    }
}
