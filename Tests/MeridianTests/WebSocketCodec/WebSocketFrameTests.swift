import NIOCore
import Testing

@testable import MeridianWebSocket

@Suite("WebSocketFrame")
struct WebSocketFrameTests {
    @Test("defaults: final, no RSV1")
    func defaults() {
        let frame = WebSocketFrame(opcode: .text, payload: ByteBuffer(string: "a"))
        #expect(frame.fin)
        #expect(!frame.rsv1)
    }

    @Test("equal when the readable payload bytes are equal")
    func equality() {
        var shifted = ByteBuffer(string: "xa")
        shifted.moveReaderIndex(forwardBy: 1)
        #expect(
            WebSocketFrame(opcode: .binary, payload: shifted)
                == WebSocketFrame(opcode: .binary, payload: ByteBuffer(string: "a")))
        #expect(
            WebSocketFrame(fin: false, opcode: .binary, payload: shifted)
                != WebSocketFrame(opcode: .binary, payload: shifted))
    }
}
