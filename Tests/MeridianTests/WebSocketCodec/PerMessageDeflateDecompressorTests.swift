import NIOCore
import Testing

@testable import MeridianWebSocket

@Suite("PerMessageDeflateDecompressor")
struct PerMessageDeflateDecompressorTests {
    private let allocator = ByteBufferAllocator()

    @Test("RFC 7692 §7.2.3.1: f2 48 cd c9 c9 07 00 is \"Hello\"")
    func hello() throws {
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        let payload = ByteBuffer(bytes: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        #expect(try decompressor.decompress(payload, maxSize: 5, allocator: allocator) == ByteBuffer(string: "Hello"))
    }

    @Test("RFC 7692 §7.2.3.2: the second \"Hello\" (f2 00 11 00 00) reads with context takeover")
    func helloTwice() throws {
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        let first = ByteBuffer(bytes: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        #expect(try decompressor.decompress(first, maxSize: 100, allocator: allocator) == ByteBuffer(string: "Hello"))
        let second = ByteBuffer(bytes: [0xF2, 0x00, 0x11, 0x00, 0x00])
        #expect(try decompressor.decompress(second, maxSize: 100, allocator: allocator) == ByteBuffer(string: "Hello"))
    }

    @Test("with client_no_context_takeover the window is reset, so a back-reference fails with 1007")
    func noTakeover() throws {
        let agreement = PerMessageDeflateAgreement(clientNoContextTakeover: true)
        let decompressor = PerMessageDeflateDecompressor(agreement: agreement)
        let first = ByteBuffer(bytes: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        #expect(try decompressor.decompress(first, maxSize: 100, allocator: allocator) == ByteBuffer(string: "Hello"))
        let second = ByteBuffer(bytes: [0xF2, 0x00, 0x11, 0x00, 0x00])
        #expect(throws: WebSocketFailure.invalidPayload("corrupt compressed data")) {
            try decompressor.decompress(second, maxSize: 100, allocator: allocator)
        }
        // Still usable for the next message.
        #expect(try decompressor.decompress(first, maxSize: 100, allocator: allocator) == ByteBuffer(string: "Hello"))
    }

    @Test("RFC 7692 §7.2.3.3: a message in a stored (uncompressed) block")
    func stored() throws {
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        let payload = ByteBuffer(bytes: [0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00])
        #expect(try decompressor.decompress(payload, maxSize: 100, allocator: allocator) == ByteBuffer(string: "Hello"))
    }

    @Test("RFC 7692 §7.2.3.4: a final block (BFINAL), then the context still carries over")
    func finalBlock() throws {
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        let payload = ByteBuffer(bytes: [0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00])
        #expect(try decompressor.decompress(payload, maxSize: 100, allocator: allocator) == ByteBuffer(string: "Hello"))
        // A back-reference into the first message's window after the stream ended.
        let second = ByteBuffer(bytes: [0xF2, 0x00, 0x11, 0x00, 0x00])
        #expect(try decompressor.decompress(second, maxSize: 100, allocator: allocator) == ByteBuffer(string: "Hello"))
    }

    @Test("a message that ends right after a final block gets no trailer, and the next message reads")
    func endsWithFinalBlock() throws {
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        let payload = ByteBuffer(bytes: [0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        #expect(try decompressor.decompress(payload, maxSize: 100, allocator: allocator) == ByteBuffer(string: "Hello"))
        let second = ByteBuffer(bytes: [0xF2, 0x00, 0x11, 0x00, 0x00])
        #expect(try decompressor.decompress(second, maxSize: 100, allocator: allocator) == ByteBuffer(string: "Hello"))
    }

    @Test("blocks after a final block are read as a new stream with the same window")
    func afterFinalBlock() throws {
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        let hello: [UInt8] = [0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
        let payload = ByteBuffer(bytes: [0xF3] + hello + [0xF2] + hello)
        let output = try decompressor.decompress(payload, maxSize: 100, allocator: allocator)
        #expect(output == ByteBuffer(string: "HelloHello"))
    }

    @Test("a 10 MB run of zeros compressed to a few KB is stopped at maxSize with 1009")
    func bomb() throws {
        let compressor = PerMessageDeflateCompressor(agreement: PerMessageDeflateAgreement(), level: 9)
        let bomb = compressor.compress(ByteBuffer(repeating: 0, count: 10_000_000), allocator: allocator)
        #expect(bomb.readableBytes < 20_000)
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        #expect(throws: WebSocketFailure.tooBig("message larger than 1000000 bytes")) {
            try decompressor.decompress(bomb, maxSize: 1_000_000, allocator: allocator)
        }
    }

    @Test("the output never grows past maxSize and one chunk")
    func boundedOutput() throws {
        let compressor = PerMessageDeflateCompressor(agreement: PerMessageDeflateAgreement(), level: 9)
        let bomb = compressor.compress(ByteBuffer(repeating: 0, count: 10_000_000), allocator: allocator)
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        for maxSize in [0, 1, 1000, 65_536, 300_000] {
            var output = allocator.buffer(capacity: 0)
            #expect(throws: WebSocketFailure.self) {
                try decompressor.inflate(bomb, isFinal: true, into: &output, maxSize: maxSize)
            }
            #expect(output.readableBytes == maxSize + 1)
        }
    }

    @Test("exactly maxSize is accepted")
    func exactLimit() throws {
        let compressor = PerMessageDeflateCompressor(agreement: PerMessageDeflateAgreement(), level: 6)
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        let message = ByteBuffer(repeating: 0x61, count: 100_000)
        let compressed = compressor.compress(message, allocator: allocator)
        #expect(try decompressor.decompress(compressed, maxSize: 100_000, allocator: allocator) == message)
        let again = compressor.compress(message, allocator: allocator)
        #expect(throws: WebSocketFailure.tooBig("message larger than 99999 bytes")) {
            try decompressor.decompress(again, maxSize: 99_999, allocator: allocator)
        }
    }

    @Test(
        "corrupt input fails with 1007",
        arguments: [
            [0xFF, 0xFF, 0xFF], [0x07], [0xF2, 0x00, 0x11, 0x00, 0x00], [0x00, 0x05, 0x00, 0x00, 0x00],
        ] as [[UInt8]])
    func corrupt(bytes: [UInt8]) {
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        #expect(throws: WebSocketFailure.invalidPayload("corrupt compressed data")) {
            try decompressor.decompress(ByteBuffer(bytes: bytes), maxSize: 1000, allocator: allocator)
        }
    }

    @Test("a fragment at a time gives the same output as the whole payload")
    func fragments() throws {
        let compressor = PerMessageDeflateCompressor(agreement: PerMessageDeflateAgreement(), level: 6)
        let text = String(repeating: "incremental inflate ", count: 300)
        let compressed = Array(compressor.compress(ByteBuffer(string: text), allocator: allocator).readableBytesView)
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        var output = allocator.buffer(capacity: 0)
        for (index, byte) in compressed.enumerated() {
            let isFinal = index == compressed.count - 1
            try decompressor.inflate(ByteBuffer(bytes: [byte]), isFinal: isFinal, into: &output, maxSize: 1 << 20)
        }
        #expect(output == ByteBuffer(string: text))
    }

    @Test("a message cut short (not ending on a block boundary) fails with 1007")
    func truncated() throws {
        let compressor = PerMessageDeflateCompressor(agreement: PerMessageDeflateAgreement(), level: 6)
        let text = (0..<2000).map { "word\($0 % 97) " }.joined()
        let compressed = compressor.compress(ByteBuffer(string: text), allocator: allocator)
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        let cut = try #require(compressed.getSlice(at: compressed.readerIndex, length: compressed.readableBytes / 2))
        #expect(throws: WebSocketFailure.invalidPayload("corrupt compressed data")) {
            try decompressor.decompress(cut, maxSize: 1 << 20, allocator: allocator)
        }
    }

    @Test("an empty compressed payload is an empty message, and the next message still reads")
    func emptyPayload() throws {
        // What a zlib-based client sends for an empty message after another: its flush writes nothing.
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        let first = ByteBuffer(bytes: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        #expect(try decompressor.decompress(first, maxSize: 100, allocator: allocator) == ByteBuffer(string: "Hello"))
        #expect(try decompressor.decompress(ByteBuffer(), maxSize: 100, allocator: allocator).readableBytes == 0)
        let second = ByteBuffer(bytes: [0xF2, 0x00, 0x11, 0x00, 0x00])
        #expect(try decompressor.decompress(second, maxSize: 100, allocator: allocator) == ByteBuffer(string: "Hello"))
    }

    @Test("an 8-bit window inflates the RFC example")
    func window8() throws {
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement(clientMaxWindowBits: 8))
        let payload = ByteBuffer(bytes: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        #expect(try decompressor.decompress(payload, maxSize: 100, allocator: allocator) == ByteBuffer(string: "Hello"))
    }

    @Test("no size limit: Int.max works")
    func unlimited() throws {
        let compressor = PerMessageDeflateCompressor(agreement: PerMessageDeflateAgreement(), level: 1)
        let message = ByteBuffer(repeating: 0x41, count: 300_000)
        let compressed = compressor.compress(message, allocator: allocator)
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        #expect(try decompressor.decompress(compressed, maxSize: .max, allocator: allocator) == message)
    }
}
