import NIOCore
import Testing

@testable import MeridianWebSocket

@Suite("WebSocketFrameParser")
struct WebSocketFrameParserTests {
    /// All frames `bytes` holds, fed in one buffer.
    private func parse(
        _ bytes: [UInt8],
        maxFrameSize: Int = 1 << 21,
        allowRSV1: Bool = false
    ) throws(WebSocketFailure) -> [WebSocketFrame] {
        var parser = WebSocketFrameParser(maxFrameSize: maxFrameSize, allowRSV1: allowRSV1)
        parser.append(TestClient.buffer(bytes))
        var frames: [WebSocketFrame] = []
        while let frame = try parser.next() {
            frames.append(frame)
        }
        return frames
    }

    private func failure(
        _ bytes: [UInt8],
        maxFrameSize: Int = 1 << 21,
        allowRSV1: Bool = false
    ) -> WebSocketFailure? {
        do {
            _ = try parse(bytes, maxFrameSize: maxFrameSize, allowRSV1: allowRSV1)
            return nil
        } catch {
            return error
        }
    }

    @Test(
        "payload lengths in the 7-, 16- and 64-bit encodings round-trip",
        arguments: [0, 1, 125, 126, 65535, 65536, 1 << 20])
    func lengths(length: Int) throws {
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let frames = try parse(TestClient.frame(0x2, payload))
        #expect(frames == [WebSocketFrame(opcode: .binary, payload: TestClient.buffer(payload))])
    }

    @Test("the header uses the encoding its length needs")
    func headerSizes() {
        #expect(TestClient.frame(0x2, Array(repeating: 0, count: 125)).count == 2 + 4 + 125)
        #expect(TestClient.frame(0x2, Array(repeating: 0, count: 126)).count == 4 + 4 + 126)
        #expect(TestClient.frame(0x2, Array(repeating: 0, count: 65536)).count == 10 + 4 + 65536)
    }

    @Test("fin, rsv1 and opcode come through")
    func flags() throws {
        let frames = try parse(
            TestClient.frame(0x1, Array("a".utf8), fin: false, rsv1: true) + TestClient.frame(0x0, Array("b".utf8)),
            allowRSV1: true
        )
        #expect(
            frames == [
                WebSocketFrame(fin: false, rsv1: true, opcode: .text, payload: TestClient.buffer("a")),
                WebSocketFrame(fin: true, rsv1: false, opcode: .continuation, payload: TestClient.buffer("b")),
            ]
        )
    }

    @Test("several frames in one buffer")
    func severalFrames() throws {
        let bytes =
            TestClient.frame(.text, "hello") + TestClient.frame(.ping, "p") + TestClient.frame(0x2, [])
            + TestClient.frame(0x2, Array(repeating: 9, count: 300)) + TestClient.frame(.close, "")
        let frames = try parse(bytes)
        #expect(frames.map(\.opcode) == [.text, .ping, .binary, .binary, .close])
        #expect(frames[0].payload == TestClient.buffer("hello"))
        #expect(frames[3].payload.readableBytes == 300)
    }

    @Test("bytes fed one at a time give the same frames as one buffer")
    func byteAtATime() throws {
        let bytes =
            TestClient.frame(.text, "hello", fin: false) + TestClient.frame(.ping, "ping")
            + TestClient.frame(0x0, Array(repeating: 0x41, count: 200))
            + TestClient.frame(0x2, Array(repeating: 7, count: 70000))
            + TestClient.frame(.close, "")
        let whole = try parse(bytes)
        var parser = WebSocketFrameParser(maxFrameSize: 1 << 20)
        var frames: [WebSocketFrame] = []
        for byte in bytes {
            parser.append(TestClient.buffer([byte]))
            while let frame = try parser.next() {
                frames.append(frame)
            }
        }
        #expect(frames.count == 5)
        #expect(frames == whole)
    }

    @Test("nil until the frame is whole, and an empty append changes nothing")
    func incomplete() throws {
        var parser = WebSocketFrameParser(maxFrameSize: 1000)
        let bytes = TestClient.frame(.text, "hello")
        parser.append(TestClient.buffer(Array(bytes.prefix(8))))
        let event1 = try parser.next()
        #expect(event1 == nil)
        parser.append(TestClient.buffer([]))
        let event2 = try parser.next()
        #expect(event2 == nil)
        parser.append(TestClient.buffer(Array(bytes.dropFirst(8))))
        let event3 = try parser.next()
        #expect(event3 == WebSocketFrame(opcode: .text, payload: TestClient.buffer("hello")))
        let event4 = try parser.next()
        #expect(event4 == nil)
    }

    @Test("frames split across appends at every position")
    func splitEverywhere() throws {
        let bytes = TestClient.frame(.text, "first") + TestClient.frame(0x2, Array(repeating: 3, count: 130))
        for split in 0...bytes.count {
            var parser = WebSocketFrameParser(maxFrameSize: 1000)
            var frames: [WebSocketFrame] = []
            parser.append(TestClient.buffer(Array(bytes[..<split])))
            while let frame = try parser.next() { frames.append(frame) }
            parser.append(TestClient.buffer(Array(bytes[split...])))
            while let frame = try parser.next() { frames.append(frame) }
            #expect(frames.map(\.opcode) == [.text, .binary], "split at \(split)")
        }
    }

    @Test("an unmasked client frame is a protocol error")
    func unmasked() {
        #expect(
            failure(TestClient.frame(0x1, Array("hi".utf8), masked: false)) == .protocolError("unmasked client frame"))
    }

    @Test("RSV2 and RSV3 are protocol errors, even with RSV1 allowed")
    func rsv2rsv3() {
        #expect(failure(TestClient.frame(0x1, [], rsv2: true), allowRSV1: true)?.code == 1002)
        #expect(failure(TestClient.frame(0x1, [], rsv3: true), allowRSV1: true)?.code == 1002)
    }

    @Test("RSV1 without an extension is a protocol error")
    func rsv1NotAllowed() {
        #expect(failure(TestClient.frame(0x1, [], rsv1: true))?.code == 1002)
        #expect(failure(TestClient.frame(0x1, [], rsv1: true), allowRSV1: true) == nil)
    }

    @Test("RSV1 on a control frame or a continuation frame is a protocol error")
    func rsv1OnControlOrContinuation() {
        #expect(
            failure(TestClient.frame(0x9, [], rsv1: true), allowRSV1: true)
                == .protocolError("RSV1 set on a control frame"))
        #expect(failure(TestClient.frame(0x8, [], rsv1: true), allowRSV1: true)?.code == 1002)
        #expect(
            failure(TestClient.frame(0x0, [], rsv1: true), allowRSV1: true)
                == .protocolError("RSV1 set on a continuation frame")
        )
    }

    @Test("reserved opcodes are protocol errors", arguments: [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8])
    func reservedOpcodes(opcode: UInt8) {
        #expect(failure(TestClient.frame(opcode, [])) == .protocolError("reserved opcode \(opcode)"))
    }

    @Test("a control frame with FIN clear is a protocol error", arguments: [0x8, 0x9, 0xA] as [UInt8])
    func fragmentedControl(opcode: UInt8) {
        #expect(failure(TestClient.frame(opcode, [], fin: false)) == .protocolError("fragmented control frame"))
    }

    @Test("a control frame over 125 bytes is a protocol error, 125 is fine")
    func longControl() {
        #expect(failure(TestClient.frame(0x9, Array(repeating: 1, count: 126)))?.code == 1002)
        #expect(failure(TestClient.frame(0x9, Array(repeating: 1, count: 125))) == nil)
        // The 16-bit encoding of a short length is still over 125 for a control frame: checked before it arrives.
        #expect(failure(Array(TestClient.frame(0xA, Array(repeating: 1, count: 200)).prefix(2)))?.code == 1002)
    }

    @Test("a 64-bit length with the top bit set is a protocol error")
    func topBit() {
        let header: [UInt8] = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1]
        #expect(failure(header) == .protocolError("64-bit length with the top bit set"))
    }

    @Test("a frame over maxFrameSize fails with 1009 from its header alone")
    func tooBig() {
        // Only the header: the payload never arrives, the failure comes anyway.
        let header = Array(TestClient.frame(0x2, [], length: 1 << 40).prefix(10))
        #expect(failure(header, maxFrameSize: 1 << 20) == .tooBig("frame larger than 1048576 bytes"))
        let sixteen = Array(TestClient.frame(0x2, [], length: 1001).prefix(4))
        #expect(failure(sixteen, maxFrameSize: 1000)?.code == 1009)
        #expect(failure(TestClient.frame(0x2, Array(repeating: 0, count: 1000)), maxFrameSize: 1000) == nil)
        #expect(failure(TestClient.frame(0x1, Array(repeating: 0, count: 11)), maxFrameSize: 10)?.code == 1009)
    }

    @Test("a failure needs only the bytes that show it")
    func earlyFailure() {
        var parser = WebSocketFrameParser(maxFrameSize: 100)
        parser.append(TestClient.buffer([0x81, 0x05]))  // unmasked, mask key and payload never sent
        #expect(throws: WebSocketFailure.protocolError("unmasked client frame")) { try parser.next() }
    }

    @Test("the parser does not keep consumed bytes when reads end mid-frame")
    func bounded() throws {
        var parser = WebSocketFrameParser(maxFrameSize: 1 << 16)
        let frame = TestClient.frame(0x2, Array(repeating: 5, count: 1000))
        let stream = Array(repeating: frame, count: 1500).flatMap { $0 }
        var offset = 0
        var count = 0
        var largest = 0
        while offset < stream.count {
            // Reads of one and a half frames: the parser always has part of a frame left over.
            let end = min(offset + frame.count * 3 / 2, stream.count)
            parser.append(TestClient.buffer(Array(stream[offset..<end])))
            offset = end
            while let parsed = try parser.next() {
                #expect(parsed.payload.readableBytes == 1000)
                count += 1
            }
            largest = max(largest, parser.bufferCapacity)
        }
        #expect(count == 1500)
        #expect(largest <= 16384)
    }
}
