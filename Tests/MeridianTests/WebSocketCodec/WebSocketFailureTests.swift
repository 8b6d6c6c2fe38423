import Testing

@testable import MeridianWebSocket

@Suite("WebSocketFailure")
struct WebSocketFailureTests {
    @Test("the named failures carry the RFC 6455 §7.4.1 codes")
    func codes() {
        #expect(WebSocketFailure.protocolError("x") == WebSocketFailure(code: 1002, reason: "x"))
        #expect(WebSocketFailure.invalidPayload("y") == WebSocketFailure(code: 1007, reason: "y"))
        #expect(WebSocketFailure.tooBig("z") == WebSocketFailure(code: 1009, reason: "z"))
    }

    @Test("described as code and reason")
    func description() {
        #expect(
            String(describing: WebSocketFailure.protocolError("unmasked client frame")) == "1002 unmasked client frame")
    }
}
