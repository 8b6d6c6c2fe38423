import NIOCore
import Testing

@testable import MeridianWebSocket

@Suite("PerMessageDeflateCompressor")
struct PerMessageDeflateCompressorTests {
    private let allocator = ByteBufferAllocator()

    private func bytes(_ buffer: ByteBuffer) -> [UInt8] {
        Array(buffer.readableBytesView)
    }

    @Test("RFC 7692 §7.2.3.1: \"Hello\" compresses to f2 48 cd c9 c9 07 00")
    func hello() throws {
        let compressor = PerMessageDeflateCompressor(agreement: PerMessageDeflateAgreement(), level: 6)
        let compressed = compressor.compress(ByteBuffer(string: "Hello"), allocator: allocator)
        #expect(bytes(compressed) == [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        let inflated = try decompressor.decompress(compressed, maxSize: 100, allocator: allocator)
        #expect(inflated == ByteBuffer(string: "Hello"))
    }

    @Test("RFC 7692 §7.2.3.2: with context takeover the second \"Hello\" refers back to the first")
    func helloTwice() {
        let compressor = PerMessageDeflateCompressor(agreement: PerMessageDeflateAgreement(), level: 6)
        _ = compressor.compress(ByteBuffer(string: "Hello"), allocator: allocator)
        let second = compressor.compress(ByteBuffer(string: "Hello"), allocator: allocator)
        #expect(bytes(second) == [0xF2, 0x00, 0x11, 0x00, 0x00])
    }

    @Test("an empty message compresses to one byte (RFC 7692 §7.2.3.6) and back")
    func empty() throws {
        let compressor = PerMessageDeflateCompressor(agreement: PerMessageDeflateAgreement(), level: 6)
        let compressed = compressor.compress(ByteBuffer(), allocator: allocator)
        #expect(bytes(compressed) == [0x00])
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        #expect(try decompressor.decompress(compressed, maxSize: 0, allocator: allocator).readableBytes == 0)
    }

    @Test("messages round-trip with and without context takeover", arguments: [false, true])
    func roundTrip(noContextTakeover: Bool) throws {
        // One agreement for both ends: the server's compressor and, standing in for the client's inflater, a
        // decompressor that resets when the compressor does.
        let agreement = PerMessageDeflateAgreement(
            serverNoContextTakeover: noContextTakeover,
            clientNoContextTakeover: noContextTakeover
        )
        let compressor = PerMessageDeflateCompressor(agreement: agreement, level: 6)
        let decompressor = PerMessageDeflateDecompressor(agreement: agreement)
        let messages = [
            "Hello", "Hello", "", String(repeating: "The quick brown fox ", count: 500), "ünïcødé 😀", "",
            String(repeating: "x", count: 100_000), "Hello",
        ]
        for message in messages {
            let compressed = compressor.compress(ByteBuffer(string: message), allocator: allocator)
            let inflated = try decompressor.decompress(compressed, maxSize: 1 << 20, allocator: allocator)
            #expect(inflated == ByteBuffer(string: message))
        }
    }

    @Test("binary data that does not compress round-trips")
    func incompressible() throws {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let compressor = PerMessageDeflateCompressor(agreement: PerMessageDeflateAgreement(), level: 6)
        let compressed = compressor.compress(ByteBuffer(bytes: random), allocator: allocator)
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        #expect(
            try decompressor.decompress(compressed, maxSize: 1 << 20, allocator: allocator) == ByteBuffer(bytes: random)
        )
    }

    @Test("with context takeover a repeated message compresses smaller; without, to the same size")
    func takeover() {
        let message = ByteBuffer(string: String(repeating: "a message with some words in it, ", count: 20))
        let withTakeover = PerMessageDeflateCompressor(agreement: PerMessageDeflateAgreement(), level: 6)
        let first = withTakeover.compress(message, allocator: allocator)
        let second = withTakeover.compress(message, allocator: allocator)
        #expect(second.readableBytes < first.readableBytes)

        let agreement = PerMessageDeflateAgreement(serverNoContextTakeover: true)
        let withoutTakeover = PerMessageDeflateCompressor(agreement: agreement, level: 6)
        let again = withoutTakeover.compress(message, allocator: allocator)
        #expect(withoutTakeover.compress(message, allocator: allocator) == again)
        #expect(again == first)
    }

    @Test("a smaller window compresses, and a 15-bit inflater reads it", arguments: [9, 10, 12, 15])
    func smallWindow(bits: Int) throws {
        let agreement = PerMessageDeflateAgreement(serverMaxWindowBits: bits)
        let compressor = PerMessageDeflateCompressor(agreement: agreement, level: 9)
        // Repeats 2 KiB apart: a 9-bit window cannot reach them, a 15-bit one can.
        let block = (0..<2048).map { UInt8(truncatingIfNeeded: ($0 &* 7919) >> 3) }
        let message = ByteBuffer(bytes: block + block + block)
        let compressed = compressor.compress(message, allocator: allocator)
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement(clientMaxWindowBits: 15))
        #expect(try decompressor.decompress(compressed, maxSize: 1 << 20, allocator: allocator) == message)
        // And an inflater with exactly the agreed window reads it too.
        let exact = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement(clientMaxWindowBits: bits))
        #expect(try exact.decompress(compressed, maxSize: 1 << 20, allocator: allocator) == message)
    }
}
