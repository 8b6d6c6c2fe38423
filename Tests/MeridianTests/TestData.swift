import MeridianCompression
import NIOCore
import Testing

/// Reproducible inputs: the same seed gives the same bytes on every run, so a failure can be replayed.
struct CompressionTestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum InputKind: String, CaseIterable, Sendable {
    /// Incompressible bytes: the encoder's output is larger than its input.
    case random
    /// JavaScript-like text: compresses about 4:1.
    case text

    func bytes(count: Int, seed: UInt64 = 42) -> [UInt8] {
        var generator = CompressionTestRandom(seed: seed)
        switch self {
        case .random:
            return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        case .text:
            let words = [
                "function", "return", "const", "let", "if", "else", "for", "this", "value", "length", "element",
                "document", "querySelector", "addEventListener", "callback", "options", "undefined", "null", "=>",
                "(", ")", "{", "}", ";", "=", "===", "+", ".", ",", "0", "1", "\n", "\n  ", "\n    ", "'click'",
            ]
            var text: [UInt8] = []
            text.reserveCapacity(count + 32)
            while text.count < count {
                text += words.randomElement(using: &generator)!.utf8
                text.append(UInt8(ascii: " "))
            }
            return Array(text.prefix(count))
        }
    }
}

/// A coding at one level, as the round-trip tests run it.
struct Codec: Sendable, CustomStringConvertible {
    var coding: ContentCoding
    var level: Int

    /// gzip at 1/6/9 and brotli at 0/5/11: each end of the range and the middle.
    static let all =
        [1, 6, 9].map { Codec(coding: .gzip, level: $0) }
        + [0, 5, 11].map { Codec(coding: .brotli, level: $0) }

    var description: String { "\(coding.token)-\(level)" }

    func makeCompressor(expectedLength: Int? = nil) -> any StreamingCompressor {
        switch coding {
        case .gzip: GzipCompressor(level: level, expectedLength: expectedLength)
        case .brotli: BrotliCompressor(quality: level, expectedLength: expectedLength)
        case .identity: fatalError("identity has no compressor")
        }
    }
}

extension ByteBuffer {
    var bytes: [UInt8] { getBytes(at: readerIndex, length: readableBytes)! }
}

/// Compares decoded bytes with the expected ones, reporting lengths and the first difference rather than both
/// arrays (a megabyte each).
func expectSameBytes(
    _ actual: [UInt8],
    _ expected: some Collection<UInt8>,
    _ comment: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let expected = Array(expected)
    guard actual != expected else { return }
    let firstDifference =
        zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        ?? min(actual.count, expected.count)
    let context = comment.map { " (\($0))" } ?? ""
    Issue.record(
        "got \(actual.count) bytes, expected \(expected.count); first difference at \(firstDifference)\(context)",
        sourceLocation: sourceLocation
    )
}
