import NIOCore
import Testing

@testable import MeridianWebSocket

@Suite("WebSocketEvent")
struct WebSocketEventTests {
    @Test("a close with no payload differs from one with a code")
    func close() {
        #expect(WebSocketEvent.close(code: nil, reason: "") != .close(code: 1005, reason: ""))
        #expect(WebSocketEvent.close(code: 1000, reason: "bye") == .close(code: 1000, reason: "bye"))
    }

    @Test("events compare by payload bytes")
    func payloads() {
        #expect(WebSocketEvent.ping(ByteBuffer(string: "a")) == .ping(ByteBuffer(string: "a")))
        #expect(WebSocketEvent.ping(ByteBuffer(string: "a")) != .pong(ByteBuffer(string: "a")))
        #expect(WebSocketEvent.message(.text, ByteBuffer(string: "a")) != .message(.binary, ByteBuffer(string: "a")))
    }
}
