import NIOCore
import Testing

@testable import MeridianWebSocket

@Suite("ByteBuffer.webSocketUnmask")
struct ByteBufferWebSocketMaskTests {
    /// RFC 6455 §5.3, one byte at a time: octet i XOR key octet i mod 4.
    private func reference(_ bytes: [UInt8], _ key: [UInt8]) -> [UInt8] {
        bytes.enumerated().map { $0.element ^ key[$0.offset % 4] }
    }

    @Test("matches the byte-at-a-time definition for every length up to 40", arguments: 0...40)
    func lengths(length: Int) {
        let key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
        var buffer = ByteBuffer(bytes: bytes)
        buffer.webSocketUnmask(key: 0x37FA_213D)
        #expect(Array(buffer.readableBytesView) == reference(bytes, key))
    }

    @Test("RFC 6455 §5.7: the masked \"Hello\"")
    func rfcExample() {
        var buffer = ByteBuffer(bytes: [0x7F, 0x9F, 0x4D, 0x51, 0x58])
        buffer.webSocketUnmask(key: 0x37FA_213D)
        #expect(buffer == ByteBuffer(string: "Hello"))
    }

    @Test("only the readable bytes are unmasked, starting with key byte 0")
    func readerIndex() {
        var buffer = ByteBuffer(bytes: [0xEE, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        buffer.moveReaderIndex(forwardBy: 1)
        buffer.webSocketUnmask(key: 0x37FA_213D)
        #expect(buffer == ByteBuffer(string: "Hello"))
        buffer.moveReaderIndex(to: 0)
        #expect(buffer.readableBytesView.first == 0xEE)
    }
}
