import Testing

@testable import MeridianWebSocket

@Suite("WebSocketAccept")
struct WebSocketAcceptTests {
    @Test("RFC 6455 §1.3's example key")
    func rfcExample() {
        #expect(WebSocketAccept.value(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("a second known key and answer")
    func otherExample() {
        #expect(WebSocketAccept.value(forKey: "x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=")
    }

    @Test(
        "base64 with and without padding (RFC 4648 §10)",
        arguments: [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ])
    func base64(input: String, expected: String) {
        #expect(WebSocketAccept.base64(Array(input.utf8)) == expected)
    }
}
