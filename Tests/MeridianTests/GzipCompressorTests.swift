import NIOCore
import Testing

@testable import MeridianCompression

@Suite struct GzipCompressorTests {
    @Test func writesAGzipMember() {
        var compressor = GzipCompressor(level: 6)
        let output = compressor.finish(allocator: ByteBufferAllocator()).bytes
        #expect(output.prefix(3) == [0x1F, 0x8B, 0x08], "gzip magic and the deflate method (RFC 1952 §2.3)")
        #expect(output.count == 20, "header, an empty final block and the CRC-32 and length trailer")
    }

    /// nginx's table: the window halves while the body fits in half of it less the 262-byte lookahead.
    @Test(
        arguments: [
            (nil, 15, 8), (1_000_000, 15, 8), (16_122, 15, 8), (16_121, 14, 7), (8_000, 14, 7), (7_929, 13, 6),
            (1_000, 11, 4), (100, 9, 2), (0, 9, 2),
        ] as [(Int?, Int32, Int32)])
    func windowShrinksForShortBodies(length: Int?, windowBits: Int32, memLevel: Int32) {
        let sized = GzipCompressor.windowAndMemLevel(expectedLength: length)
        #expect(sized.windowBits == windowBits)
        #expect(sized.memLevel == memLevel)
    }
}
