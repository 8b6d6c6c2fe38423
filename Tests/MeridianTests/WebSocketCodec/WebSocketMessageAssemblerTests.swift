import NIOCore
import Testing

@testable import MeridianWebSocket

@Suite("WebSocketMessageAssembler")
struct WebSocketMessageAssemblerTests {
    private func frame(
        _ opcode: WebSocketOpcode,
        _ bytes: [UInt8],
        fin: Bool = true,
        rsv1: Bool = false
    ) -> WebSocketFrame {
        WebSocketFrame(fin: fin, rsv1: rsv1, opcode: opcode, payload: ByteBuffer(bytes: bytes))
    }

    private func frame(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true) -> WebSocketFrame {
        frame(opcode, Array(text.utf8), fin: fin)
    }

    /// The close frame payload for a code and reason bytes.
    private func closePayload(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + reason
    }

    private func failure(
        _ frames: [WebSocketFrame],
        maxMessageSize: Int = 1 << 20,
        decompressor: PerMessageDeflateDecompressor? = nil
    ) -> WebSocketFailure? {
        var assembler = WebSocketMessageAssembler(maxMessageSize: maxMessageSize, decompressor: decompressor)
        do {
            for frame in frames {
                _ = try assembler.receive(frame)
            }
            return nil
        } catch {
            return error
        }
    }

    @Test("a one-frame message comes out whole")
    func singleFrame() throws {
        var assembler = WebSocketMessageAssembler(maxMessageSize: 100)
        let event1 = try assembler.receive(frame(.text, "hello"))
        #expect(event1 == .message(.text, ByteBuffer(string: "hello")))
        let event2 = try assembler.receive(frame(.binary, [1, 2, 3]))
        #expect(event2 == .message(.binary, ByteBuffer(bytes: [1, 2, 3])))
        let event3 = try assembler.receive(frame(.text, ""))
        #expect(event3 == .message(.text, ByteBuffer()))
    }

    @Test("fragments are joined, and control frames interleaved with them come out at once")
    func fragments() throws {
        var assembler = WebSocketMessageAssembler(maxMessageSize: 100)
        let event4 = try assembler.receive(frame(.text, "Hel", fin: false))
        #expect(event4 == nil)
        let event5 = try assembler.receive(frame(.ping, "p1"))
        #expect(event5 == .ping(ByteBuffer(string: "p1")))
        let event6 = try assembler.receive(frame(.continuation, "lo, ", fin: false))
        #expect(event6 == nil)
        let event7 = try assembler.receive(frame(.pong, "p2"))
        #expect(event7 == .pong(ByteBuffer(string: "p2")))
        let event8 = try assembler.receive(frame(.continuation, "", fin: false))
        #expect(event8 == nil)
        let event9 = try assembler.receive(frame(.continuation, "world"))
        #expect(event9 == .message(.text, ByteBuffer(string: "Hello, world")))
        // The next message starts afresh.
        let event10 = try assembler.receive(frame(.binary, [1], fin: false))
        #expect(event10 == nil)
        let event11 = try assembler.receive(frame(.continuation, [2]))
        #expect(event11 == .message(.binary, ByteBuffer(bytes: [1, 2])))
    }

    @Test("a continuation frame with no message started is a protocol error")
    func continuationFirst() {
        #expect(failure([frame(.continuation, "x")]) == .protocolError("continuation frame with no message started"))
        #expect(failure([frame(.text, "a"), frame(.continuation, "x")])?.code == 1002)
    }

    @Test("a new message while a fragmented one is open is a protocol error")
    func newMessageWhileOpen() {
        #expect(failure([frame(.text, "a", fin: false), frame(.text, "b")])?.code == 1002)
        #expect(failure([frame(.binary, [1], fin: false), frame(.binary, [2], fin: false)])?.code == 1002)
    }

    @Test("control frames are checked again: fragmented, long or RSV1")
    func controlRules() {
        #expect(failure([frame(.ping, [], fin: false)])?.code == 1002)
        #expect(failure([frame(.pong, Array(repeating: 0, count: 126))])?.code == 1002)
        #expect(failure([frame(.close, [], rsv1: true)])?.code == 1002)
    }

    @Test("a message over maxMessageSize fails with 1009 as its fragments arrive")
    func tooBig() {
        #expect(
            failure([frame(.binary, Array(repeating: 0, count: 11))], maxMessageSize: 10)
                == .tooBig("message larger than 10 bytes"))
        #expect(failure([frame(.binary, Array(repeating: 0, count: 10))], maxMessageSize: 10) == nil)
        // The third fragment passes the limit; the message never ends, the failure comes anyway.
        let fragments = [
            frame(.text, "aaaa", fin: false), frame(.continuation, "aaaa", fin: false),
            frame(.continuation, "aaa", fin: false),
        ]
        #expect(failure(fragments, maxMessageSize: 10)?.code == 1009)
        #expect(failure(Array(fragments.prefix(2)), maxMessageSize: 10) == nil)
    }

    @Test(
        "text must be UTF-8: invalid sequences fail with 1007",
        arguments: [
            [0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80], [0xF5],
            Array("ok".utf8) + [0xC3],  // ends inside a character
        ] as [[UInt8]])
    func invalidText(bytes: [UInt8]) {
        #expect(failure([frame(.text, bytes)])?.code == 1007)
    }

    @Test("binary messages are not checked for UTF-8")
    func binaryNotChecked() {
        #expect(failure([frame(.binary, [0xFF, 0xC0])]) == nil)
    }

    @Test("a 4-byte character split across fragments is accepted")
    func splitCharacter() throws {
        let emoji = Array("😀".utf8)  // F0 9F 98 80
        var assembler = WebSocketMessageAssembler(maxMessageSize: 100)
        let event12 = try assembler.receive(frame(.text, Array("a".utf8) + emoji.prefix(1), fin: false))
        #expect(event12 == nil)
        let event13 = try assembler.receive(frame(.continuation, Array(emoji[1..<3]), fin: false))
        #expect(event13 == nil)
        let event14 = try assembler.receive(frame(.continuation, Array(emoji[3...]) + Array("b".utf8)))
        #expect(event14 == .message(.text, ByteBuffer(string: "a😀b")))
    }

    @Test("an invalid byte in the first fragment fails before the last fragment arrives")
    func failFast() throws {
        var assembler = WebSocketMessageAssembler(maxMessageSize: 100)
        #expect(throws: WebSocketFailure.invalidPayload("text message is not valid UTF-8")) {
            try assembler.receive(frame(.text, [0x61, 0xED, 0xA0], fin: false))  // a surrogate's lead
        }
    }

    @Test("an invalid byte in a middle fragment fails at once")
    func failFastLater() throws {
        var assembler = WebSocketMessageAssembler(maxMessageSize: 100)
        let event15 = try assembler.receive(frame(.text, "fine", fin: false))
        #expect(event15 == nil)
        #expect(throws: WebSocketFailure.self) {
            try assembler.receive(frame(.continuation, [0xC3, 0x28], fin: false))
        }
    }

    @Test("close frames: no payload, a code, a code and reason")
    func close() throws {
        var assembler = WebSocketMessageAssembler(maxMessageSize: 100)
        let event16 = try assembler.receive(frame(.close, []))
        #expect(event16 == .close(code: nil, reason: ""))
        let event17 = try assembler.receive(frame(.close, closePayload(1000)))
        #expect(event17 == .close(code: 1000, reason: ""))
        let event18 = try assembler.receive(frame(.close, closePayload(4000, Array("bye ✓".utf8))))
        #expect(event18 == .close(code: 4000, reason: "bye ✓"))
    }

    @Test("a close frame with a 1-byte payload is a protocol error")
    func closeOneByte() {
        #expect(failure([frame(.close, [0x03])]) == .protocolError("close frame with a 1-byte payload"))
    }

    @Test(
        "close codes a client may not send are protocol errors",
        arguments: [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] as [UInt16])
    func invalidCloseCodes(code: UInt16) {
        #expect(failure([frame(.close, closePayload(code))]) == .protocolError("invalid close code \(code)"))
    }

    @Test(
        "close codes a client may send are accepted",
        arguments: [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
        ] as [UInt16])
    func validCloseCodes(code: UInt16) {
        #expect(failure([frame(.close, closePayload(code))]) == nil)
    }

    @Test("a close reason that is not UTF-8 fails with 1007")
    func closeReasonUTF8() {
        #expect(
            failure([frame(.close, closePayload(1000, [0xCE, 0xBA, 0xE1]))])
                == .invalidPayload("close reason is not valid UTF-8"))
    }

    @Test("RSV1 without a decompressor is a protocol error")
    func rsv1WithoutDecompressor() {
        #expect(failure([frame(.text, [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], rsv1: true)])?.code == 1002)
    }

    @Test("RSV1 on a continuation frame is a protocol error")
    func rsv1OnContinuation() {
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        #expect(
            failure(
                [frame(.text, [0xF2], fin: false, rsv1: true), frame(.continuation, [0x48], rsv1: true)],
                decompressor: decompressor)?.code == 1002)
    }

    @Test("a compressed message is inflated, in one frame or in fragments")
    func compressed() throws {
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        var assembler = WebSocketMessageAssembler(maxMessageSize: 100, decompressor: decompressor)
        let hello: [UInt8] = [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
        let event19 = try assembler.receive(frame(.text, hello, rsv1: true))
        #expect(event19 == .message(.text, ByteBuffer(string: "Hello")))
        // RFC 7692 §7.2.3.2: the same message again with the context taken over.
        let event20 = try assembler.receive(frame(.text, [0xF2, 0x00, 0x11, 0x00, 0x00], rsv1: true))
        #expect(event20 == .message(.text, ByteBuffer(string: "Hello")))
        // And uncompressed messages still pass through.
        let event21 = try assembler.receive(frame(.binary, [1, 2]))
        #expect(event21 == .message(.binary, ByteBuffer(bytes: [1, 2])))
    }

    @Test("a compressed message in fragments, split anywhere")
    func compressedFragments() throws {
        let agreement = PerMessageDeflateAgreement(serverNoContextTakeover: true, clientNoContextTakeover: true)
        let compressor = PerMessageDeflateCompressor(agreement: agreement, level: 6)
        let text = String(repeating: "fragmented é 😀 text ", count: 40)
        let compressed = Array(
            compressor.compress(ByteBuffer(string: text), allocator: TestClient.allocator).readableBytesView)
        for split in [1, compressed.count / 2, compressed.count - 1] {
            var assembler = WebSocketMessageAssembler(
                maxMessageSize: 10_000,
                decompressor: PerMessageDeflateDecompressor(agreement: agreement)
            )
            let event22 = try assembler.receive(frame(.text, Array(compressed[..<split]), fin: false, rsv1: true))
            #expect(event22 == nil)
            let event23 = try assembler.receive(frame(.continuation, Array(compressed[split...])))
            #expect(event23 == .message(.text, ByteBuffer(string: text)))
        }
    }

    @Test("a deflate bomb is stopped by the limit on the inflated size")
    func bomb() throws {
        let agreement = PerMessageDeflateAgreement()
        let compressor = PerMessageDeflateCompressor(agreement: agreement, level: 9)
        let zeros = ByteBuffer(repeating: 0, count: 10_000_000)
        let bomb = Array(compressor.compress(zeros, allocator: TestClient.allocator).readableBytesView)
        #expect(bomb.count < 20_000)
        let decompressor = PerMessageDeflateDecompressor(agreement: agreement)
        // Fragmented: the limit holds across fragments, before the last one.
        let half = bomb.count / 2
        let frames = [
            frame(.binary, Array(bomb[..<half]), fin: false, rsv1: true), frame(.continuation, Array(bomb[half...])),
        ]
        #expect(
            failure(Array(frames.prefix(1)), maxMessageSize: 1 << 20, decompressor: decompressor)
                == .tooBig("message larger than 1048576 bytes"))
    }

    @Test("compressed text that is not UTF-8 fails with 1007")
    func compressedInvalidText() throws {
        let agreement = PerMessageDeflateAgreement()
        let compressor = PerMessageDeflateCompressor(agreement: agreement, level: 6)
        let compressed = Array(
            compressor.compress(ByteBuffer(bytes: [0x61, 0xFF, 0x62]), allocator: TestClient.allocator)
                .readableBytesView)
        let decompressor = PerMessageDeflateDecompressor(agreement: agreement)
        #expect(failure([frame(.text, compressed, rsv1: true)], decompressor: decompressor)?.code == 1007)
    }

    @Test("corrupt compressed data fails with 1007")
    func corrupt() {
        let decompressor = PerMessageDeflateDecompressor(agreement: PerMessageDeflateAgreement())
        #expect(
            failure([frame(.binary, [0xFF, 0xFF, 0xFF, 0xFF], rsv1: true)], decompressor: decompressor)
                == .invalidPayload("corrupt compressed data"))
    }

    @Test("parser and assembler together: a compressed fragmented message from a masking client, byte by byte")
    func endToEnd() throws {
        let agreement = try #require(
            PerMessageDeflateAgreement.negotiate(
                offers: ["permessage-deflate; client_max_window_bits"],
                policy: .init()
            )
        )
        // The client compresses as the server would (same algorithm), then fragments and masks.
        let clientCompressor = PerMessageDeflateCompressor(agreement: agreement, level: 6)
        let text = String(repeating: "größer als ein Fragment 😀 ", count: 50)
        let compressed = Array(
            clientCompressor.compress(ByteBuffer(string: text), allocator: TestClient.allocator).readableBytesView
        )
        let third = compressed.count / 3
        let wire =
            TestClient.frame(0x1, Array(compressed[..<third]), fin: false, rsv1: true)
            + TestClient.frame(0x9, Array("are you there".utf8))
            + TestClient.frame(0x0, Array(compressed[third..<(2 * third)]), fin: false)
            + TestClient.frame(0x0, Array(compressed[(2 * third)...]))
            + TestClient.frame(0x8, [0x03, 0xE8] + Array("done".utf8))
        var parser = WebSocketFrameParser(maxFrameSize: 1 << 16, allowRSV1: true)
        var assembler = WebSocketMessageAssembler(
            maxMessageSize: 1 << 16,
            decompressor: PerMessageDeflateDecompressor(agreement: agreement)
        )
        var events: [WebSocketEvent] = []
        for byte in wire {
            parser.append(ByteBuffer(bytes: [byte]))
            while let frame = try parser.next() {
                if let event = try assembler.receive(frame) {
                    events.append(event)
                }
            }
        }
        #expect(
            events == [
                .ping(ByteBuffer(string: "are you there")),
                .message(.text, ByteBuffer(string: text)),
                .close(code: 1000, reason: "done"),
            ]
        )
    }
}
