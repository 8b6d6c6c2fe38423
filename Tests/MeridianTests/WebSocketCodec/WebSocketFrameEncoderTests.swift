import NIOCore
import Testing

@testable import MeridianWebSocket

@Suite("WebSocketFrameEncoder")
struct WebSocketFrameEncoderTests {
    private let allocator = ByteBufferAllocator()

    private func header(_ frame: ByteBuffer, payloadLength: Int) -> [UInt8] {
        Array(frame.readableBytesView.prefix(frame.readableBytes - payloadLength))
    }

    @Test(
        "headers for each length encoding are exact",
        arguments: [
            (0, [0x82, 0x00]),
            (125, [0x82, 0x7D]),
            (126, [0x82, 0x7E, 0x00, 0x7E]),
            (65535, [0x82, 0x7E, 0xFF, 0xFF]),
            (65536, [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]),
        ] as [(Int, [UInt8])])
    func lengths(length: Int, expected: [UInt8]) {
        let payload = ByteBuffer(repeating: 0xAB, count: length)
        let frame = WebSocketFrameEncoder.encode(.binary, payload: payload, allocator: allocator)
        #expect(frame.readableBytes == expected.count + length)
        #expect(header(frame, payloadLength: length) == expected)
        #expect(frame.getSlice(at: frame.readerIndex + expected.count, length: length) == payload)
    }

    @Test("fin, rsv1 and the opcode go in the first byte; the mask bit is never set")
    func firstByte() {
        let payload = ByteBuffer(string: "hi")
        let text = WebSocketFrameEncoder.encode(.text, payload: payload, allocator: allocator)
        #expect(Array(text.readableBytesView) == [0x81, 0x02, 0x68, 0x69])
        let first = WebSocketFrameEncoder.encode(.text, payload: payload, fin: false, rsv1: true, allocator: allocator)
        #expect(Array(first.readableBytesView.prefix(2)) == [0x41, 0x02])
        let last = WebSocketFrameEncoder.encode(.continuation, payload: payload, allocator: allocator)
        #expect(Array(last.readableBytesView.prefix(2)) == [0x80, 0x02])
        let pong = WebSocketFrameEncoder.encode(.pong, payload: payload, allocator: allocator)
        #expect(Array(pong.readableBytesView.prefix(2)) == [0x8A, 0x02])
    }

    @Test("a close frame holds the code and the reason")
    func close() {
        let frame = WebSocketFrameEncoder.close(code: 1002, reason: "unmasked client frame", allocator: allocator)
        let reason = Array("unmasked client frame".utf8)
        #expect(Array(frame.readableBytesView) == [0x88, UInt8(2 + reason.count), 0x03, 0xEA] + reason)
        let empty = WebSocketFrameEncoder.close(code: 1000, reason: "", allocator: allocator)
        #expect(Array(empty.readableBytesView) == [0x88, 0x02, 0x03, 0xE8])
    }

    @Test("a long reason is cut to 123 bytes without splitting a character")
    func truncation() throws {
        // 122 ASCII bytes, then "é" (2 bytes) would end at 124: it is dropped whole.
        let reason = String(repeating: "a", count: 122) + "é" + "tail"
        let frame = WebSocketFrameEncoder.close(code: 1009, reason: reason, allocator: allocator)
        #expect(frame.readableBytes == 2 + 2 + 122)
        // 120 ASCII bytes, then a 4-byte character ending at 124: dropped; a 3-byte one ending at 123 is kept.
        let emoji = WebSocketFrameEncoder.close(
            code: 1009, reason: String(repeating: "a", count: 120) + "😀", allocator: allocator)
        #expect(emoji.readableBytes == 2 + 2 + 120)
        let euro = WebSocketFrameEncoder.close(
            code: 1009, reason: String(repeating: "a", count: 120) + "€€", allocator: allocator)
        #expect(euro.readableBytes == 2 + 2 + 123)
        // The result is a valid close frame for the assembler: the reason is UTF-8.
        var assembler = WebSocketMessageAssembler(maxMessageSize: 1000)
        let payload = try #require(emoji.getSlice(at: emoji.readerIndex + 2, length: emoji.readableBytes - 2))
        let event = try assembler.receive(WebSocketFrame(opcode: .close, payload: payload))
        #expect(event == .close(code: 1009, reason: String(repeating: "a", count: 120)))
    }

    @Test("a reason of exactly 123 bytes is kept whole, shorter ones too")
    func noTruncation() {
        let reason = String(repeating: "b", count: 121) + "é"
        #expect(WebSocketFrameEncoder.truncated(reason, toUTF8Count: 123).count == 123)
        #expect(String(WebSocketFrameEncoder.truncated("short", toUTF8Count: 123)) == "short")
        #expect(WebSocketFrameEncoder.truncated("ééé", toUTF8Count: 3).count == 2)
        #expect(WebSocketFrameEncoder.truncated("😀", toUTF8Count: 3).count == 0)
    }

    @Test("frames round-trip through the parser once masked by a client")
    func roundTrip() throws {
        for length in [0, 125, 126, 65535, 65536] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0) }
            let frame = WebSocketFrameEncoder.encode(.binary, payload: ByteBuffer(bytes: payload), allocator: allocator)
            // The same header a client would send, plus the mask bit and key.
            let clientFrame = TestClient.frame(0x2, payload)
            let serverHeader = header(frame, payloadLength: length)
            var expected = Array(clientFrame.prefix(serverHeader.count))
            expected[1] &= 0x7F
            #expect(serverHeader == expected)
        }
    }
}
