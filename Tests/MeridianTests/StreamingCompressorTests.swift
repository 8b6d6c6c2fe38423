import MeridianCompression
import NIOCore
import Testing

@Suite struct StreamingCompressorTests {
    let allocator = ByteBufferAllocator()

    static let sizes = [0, 1, 100, 64 * 1024, 1024 * 1024]

    @Test("one piece, then finish", arguments: Codec.all, InputKind.allCases)
    func roundTrip(codec: Codec, kind: InputKind) throws {
        for size in Self.sizes {
            let input = kind.bytes(count: size)
            var compressor = codec.makeCompressor()
            var output = compressor.compress(ByteBuffer(bytes: input), allocator: allocator).bytes
            output += compressor.finish(allocator: allocator).bytes
            let decoded = try Decompressors.decode(output, codec.coding)
            #expect(decoded.complete, "\(size) bytes")
            expectSameBytes(decoded.bytes, input, "\(size) bytes")
            if kind == .text && size >= 64 * 1024 {
                #expect(output.count < size / 2, "text should compress: \(size) -> \(output.count)")
            }
        }
    }

    @Test("pieces of random sizes", arguments: Codec.all, InputKind.allCases)
    func chunkedRoundTrip(codec: Codec, kind: InputKind) throws {
        let input = kind.bytes(count: 300_000, seed: 7)
        var generator = CompressionTestRandom(seed: 11)
        var compressor = codec.makeCompressor()
        var output: [UInt8] = []
        var offset = 0
        while offset < input.count {
            let size = min(Int.random(in: 0...20_000, using: &generator), input.count - offset)
            output += compressor.compress(ByteBuffer(bytes: input[offset..<offset + size]), allocator: allocator).bytes
            offset += size
        }
        output += compressor.finish(allocator: allocator).bytes
        let decoded = try Decompressors.decode(output, codec.coding)
        #expect(decoded.complete)
        expectSameBytes(decoded.bytes, input)
    }

    /// What an SSE stream relies on: after each flush, the client can decode every byte sent so far.
    @Test("flush makes everything so far decodable", arguments: Codec.all)
    func flushedPrefixesDecode(codec: Codec) throws {
        let input = InputKind.text.bytes(count: 64 * 1024, seed: 3)
        var generator = CompressionTestRandom(seed: 5)
        var compressor = codec.makeCompressor()
        var output: [UInt8] = []
        var offset = 0
        while offset < input.count {
            let size = min(Int.random(in: 1...4096, using: &generator), input.count - offset)
            output += compressor.compress(ByteBuffer(bytes: input[offset..<offset + size]), allocator: allocator).bytes
            output += compressor.flush(allocator: allocator).bytes
            offset += size
            let decoded = try Decompressors.decode(output, codec.coding)
            #expect(!decoded.complete)
            expectSameBytes(decoded.bytes, input[..<offset], "after \(offset) bytes")
            if decoded.bytes.count != offset { return }  // one report is enough
        }
        output += compressor.finish(allocator: allocator).bytes
        let decoded = try Decompressors.decode(output, codec.coding)
        #expect(decoded.complete)
        expectSameBytes(decoded.bytes, input)
    }

    @Test("empty streams, empty pieces and repeated flushes", arguments: Codec.all)
    func degenerateCalls(codec: Codec) throws {
        var empty = codec.makeCompressor()
        let emptyStream = empty.finish(allocator: allocator).bytes
        #expect(try Decompressors.decode(emptyStream, codec.coding) == ([], true))

        var compressor = codec.makeCompressor()
        var output = compressor.compress(ByteBuffer(), allocator: allocator).bytes
        #expect(output.isEmpty)
        output += compressor.flush(allocator: allocator).bytes
        output += compressor.compress(ByteBuffer(string: "data: hello\n\n"), allocator: allocator).bytes
        output += compressor.flush(allocator: allocator).bytes
        let afterFlush = output.count
        output += compressor.flush(allocator: allocator).bytes
        #expect(output.count - afterFlush <= 6, "a flush with nothing new adds at most an empty block")
        #expect(try Decompressors.decode(output, codec.coding).bytes == Array("data: hello\n\n".utf8))
        output += compressor.finish(allocator: allocator).bytes
        #expect(try Decompressors.decode(output, codec.coding) == (Array("data: hello\n\n".utf8), true))
    }

    @Test("reads only the readable bytes of the input", arguments: Codec.all)
    func readsReadableBytesOnly(codec: Codec) throws {
        var input = ByteBuffer(string: "skipped|kept")
        input.moveReaderIndex(forwardBy: 8)
        var slice = ByteBuffer(string: "0123456789").getSlice(at: 2, length: 3)!
        slice.moveWriterIndex(to: 3)
        var compressor = codec.makeCompressor()
        var output = compressor.compress(input, allocator: allocator).bytes
        output += compressor.compress(slice, allocator: allocator).bytes
        output += compressor.finish(allocator: allocator).bytes
        #expect(input.readableBytes == 4, "the caller's buffer is not consumed")
        #expect(try Decompressors.decode(output, codec.coding).bytes == Array("kept234".utf8))
    }

    /// The length is only a hint for sizing: a body longer than announced must still come out whole.
    @Test("a wrong expected length still round-trips", arguments: Codec.all)
    func wrongExpectedLength(codec: Codec) throws {
        let input = InputKind.text.bytes(count: 200_000)
        for expectedLength in [0, 100, 5000] {
            var compressor = codec.makeCompressor(expectedLength: expectedLength)
            var output = compressor.compress(ByteBuffer(bytes: input), allocator: allocator).bytes
            output += compressor.finish(allocator: allocator).bytes
            let decoded = try Decompressors.decode(output, codec.coding)
            #expect(decoded.complete)
            expectSameBytes(decoded.bytes, input, "hint \(expectedLength)")
        }
    }

    @Test func codingNamesTheEncoder() {
        #expect(GzipCompressor(level: 1).coding == .gzip)
        #expect(BrotliCompressor(quality: 1).coding == .brotli)
        let configuration = CompressionPolicy.Configuration(gzipLevel: 3, brotliQuality: nil)
        #expect(configuration.makeCompressor(for: .gzip, expectedLength: nil)?.coding == .gzip)
        #expect(configuration.makeCompressor(for: .brotli, expectedLength: nil) == nil)
        #expect(configuration.makeCompressor(for: .identity, expectedLength: nil) == nil)
    }
}
