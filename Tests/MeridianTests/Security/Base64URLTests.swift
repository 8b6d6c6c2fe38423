internal import Testing

@testable internal import MeridianSecurity
import MeridianConfig

@Suite("Base64URL (RFC 7515 §2, RFC 4648 §5)")
struct Base64URLTests {
    @Test(
        "RFC 4648 §10 vectors, unpadded",
        arguments: [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ]
    )
    func vectors(plain: String, encoded: String) {
        #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
        #expect(Base64URL.decode(ArraySlice(encoded.utf8)) == Array(plain.utf8))
    }

    @Test("the URL alphabet round-trips every byte value")
    func allBytes() {
        let bytes = (0...255).map { UInt8($0) }
        let encoded = Base64URL.encode(bytes)
        #expect(!encoded.contains("+") && !encoded.contains("/") && !encoded.contains("="))
        #expect(Base64URL.decode(ArraySlice(encoded.utf8)) == bytes)
    }

    @Test(
        "padding, the standard alphabet, impossible lengths and non-zero leftover bits are refused",
        arguments: ["Zg==", "Zm8=", "a+b/", "Z", "Zm9vY", "Zh", "Zm9", "Zm 9v", "Zm9v\n"]
    )
    func refused(input: String) {
        #expect(Base64URL.decode(ArraySlice(input.utf8)) == nil)
    }
}
