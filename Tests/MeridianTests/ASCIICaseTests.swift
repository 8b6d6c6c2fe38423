import MeridianCore
import Testing

/// `lowercasedASCIIEquals`, the header-name and token comparison of both HTTP/1.1 codecs.
@Suite struct ASCIICaseTests {
    @Test func onlyASCIILettersFold() {
        #expect("Content-Length".lowercasedASCIIEquals("content-length"))
        #expect("CONTENT-LENGTH".lowercasedASCIIEquals("content-length"))
        #expect("content-length".lowercasedASCIIEquals("content-length"))
        #expect(!"content-lengt".lowercasedASCIIEquals("content-length"))
        #expect(!"content-lengths".lowercasedASCIIEquals("content-length"))
        #expect(!"content_length".lowercasedASCIIEquals("content-length"))
        // Not letters: CR is `-` with bit 0x20 off, `@` is a backquote; neither folds.
        #expect(!"content\rlength".lowercasedASCIIEquals("content-length"))
        #expect(!"@".lowercasedASCIIEquals("`"))
        #expect(!"K".lowercasedASCIIEquals("\u{212A}"))  // the Kelvin sign is not ASCII
        #expect("".lowercasedASCIIEquals(""))
        #expect(!"a".lowercasedASCIIEquals(""))
    }

    @Test func substringsAndLongStringsCompareTheSame() {
        let line = "X: Transfer-Encoding\r\n"
        let name = line.dropFirst(3).dropLast()  // "\r\n" is one Character
        #expect(name.lowercasedASCIIEquals("transfer-encoding"))
        #expect(!name.dropLast().lowercasedASCIIEquals("transfer-encoding"))
        let long = String(repeating: "Ab", count: 100)  // a heap string, not a small one
        #expect(long.lowercasedASCIIEquals(String(repeating: "ab", count: 100)))
        #expect(!long.lowercasedASCIIEquals(String(repeating: "ab", count: 99) + "ac"))
    }
}
