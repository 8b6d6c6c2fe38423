import Testing

@testable import MeridianWebSocket

@Suite("WebSocketExtensionOffer.parse")
struct WebSocketExtensionOfferTests {
    private typealias Offer = WebSocketExtensionOffer
    private typealias Parameter = WebSocketExtensionOffer.Parameter

    @Test("a list of offers with parameters")
    func list() {
        let offers = Offer.parse("permessage-deflate; client_max_window_bits, foo; a=1; b=\"x\", bar")
        #expect(
            offers == [
                Offer(name: "permessage-deflate", parameters: [Parameter(name: "client_max_window_bits", value: nil)]),
                Offer(name: "foo", parameters: [Parameter(name: "a", value: "1"), Parameter(name: "b", value: "x")]),
                Offer(name: "bar", parameters: []),
            ]
        )
    }

    @Test("empty elements are skipped")
    func empty() {
        #expect(Offer.parse("").isEmpty)
        #expect(Offer.parse(" , ,, ").isEmpty)
        #expect(Offer.parse(", foo ,").map(\.name) == ["foo"])
    }

    @Test("a comma inside a quoted string does not split, and escapes are undone")
    func quoted() {
        // "a,b" unquotes to something that is not a token: that offer is malformed, the next survives.
        #expect(Offer.parse("x; p=\"a,b\", y").map(\.name) == ["y"])
        #expect(Offer.parse("x; p=\"a\\bc\"") == [Offer(name: "x", parameters: [Parameter(name: "p", value: "abc")])])
    }

    @Test(
        "malformed elements are left out",
        arguments: [
            "; p", "x;", "x; =1", "x; p=", "x; p=\"unterminated", "x y", "x; p=1 2", "x; p=\"\"", "\"x\"", "x; p=@",
        ])
    func malformed(element: String) {
        #expect(Offer.parse(element).isEmpty)
        #expect(Offer.parse(element + ", ok").map(\.name) == (element.contains("unterminated") ? [] : ["ok"]))
    }

    @Test("names are lowercased, values are not")
    func caseFolding() {
        #expect(Offer.parse("Foo; BAR=Baz") == [Offer(name: "foo", parameters: [Parameter(name: "bar", value: "Baz")])])
    }
}
