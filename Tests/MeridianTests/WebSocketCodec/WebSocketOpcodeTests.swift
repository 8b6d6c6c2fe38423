import Testing

@testable import MeridianWebSocket

@Suite("WebSocketOpcode")
struct WebSocketOpcodeTests {
    @Test("the RFC 6455 §11.8 values")
    func values() {
        #expect(WebSocketOpcode.continuation.rawValue == 0x0)
        #expect(WebSocketOpcode.text.rawValue == 0x1)
        #expect(WebSocketOpcode.binary.rawValue == 0x2)
        #expect(WebSocketOpcode.close.rawValue == 0x8)
        #expect(WebSocketOpcode.ping.rawValue == 0x9)
        #expect(WebSocketOpcode.pong.rawValue == 0xA)
    }

    @Test("close, ping and pong are control frames")
    func isControl() {
        let control: [WebSocketOpcode] = [.close, .ping, .pong]
        let data: [WebSocketOpcode] = [.continuation, .text, .binary]
        for opcode in control {
            #expect(opcode.isControl)
        }
        for opcode in data {
            #expect(!opcode.isControl)
        }
    }

    @Test("reserved values have no case", arguments: [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8])
    func reserved(value: UInt8) {
        #expect(WebSocketOpcode(rawValue: value) == nil)
    }
}
