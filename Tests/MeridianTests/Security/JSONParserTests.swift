internal import Testing

@testable internal import MeridianSecurity
import MeridianConfig

@Suite("JSONParser (RFC 8259)")
struct JSONParserTests {
    func parse(_ text: String) -> JSONValue? {
        JSONValue.parse(Array(text.utf8))
    }

    @Test("values of every kind")
    func values() {
        #expect(
            parse(#" {"s":"x","n":-1.5e3,"t":true,"f":false,"z":null,"a":[1,"2",[]],"o":{}} "#)
                == .object([
                    "s": .string("x"), "n": .number("-1.5e3"), "t": .bool(true), "f": .bool(false), "z": .null,
                    "a": .array([.number("1"), .string("2"), .array([])]), "o": .object([:]),
                ]))
        #expect(parse("0") == .number("0"))
        #expect(parse("12345678901234567890") == .number("12345678901234567890"))
    }

    @Test("string escapes, including surrogate pairs")
    func escapes() {
        #expect(parse(#""a\"b\\c\/d\b\f\n\r\t""#) == .string("a\"b\\c/d\u{8}\u{C}\n\r\t"))
        #expect(parse(#""\u00e9\u20AC\ud83d\ude00""#) == .string("é€😀"))
        #expect(parse("\"é\"") == .string("é"))
    }

    @Test(
        "invalid JSON is refused",
        arguments: [
            "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "'a'", "01", "1.", ".5", "-", "1e", "+1",
            "tru", "nul", "NaN", "[1] 2", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\ude00\"",
            "\"\\ud83d\\u0041\"", "\"tab\there\"", "{\"a\":1,\"a\":2}", "\u{FEFF}{}",
        ]
    )
    func refused(text: String) {
        #expect(parse(text) == nil)
    }

    @Test("invalid UTF-8 inside a string is refused")
    func invalidUTF8() {
        #expect(JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) == nil)
        #expect(JSONValue.parse([0x22, 0xFF, 0x22]) == nil)
    }

    @Test("nesting is bounded")
    func depth() {
        let shallow = String(repeating: "[", count: 31) + String(repeating: "]", count: 31)
        #expect(parse(shallow) != nil)
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(parse(deep) == nil)
    }
}
