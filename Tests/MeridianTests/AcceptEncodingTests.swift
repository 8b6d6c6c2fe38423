import Testing

@testable import MeridianCompression

@Suite struct AcceptEncodingNegotiationTests {
    /// `nil` is a request without the field.
    struct Case: Sendable, CustomTestStringConvertible {
        var field: String?
        var available: [ContentCoding]
        var expected: ContentCoding?
        var testDescription: String {
            "\(field.map { "\"\($0)\"" } ?? "no field") of \(available) -> \(expected as Any)"
        }
    }

    static let both: [ContentCoding] = [.brotli, .gzip]

    static let cases: [Case] = [
        // No field, empty field, nothing usable: identity only.
        Case(field: nil, available: both, expected: .identity),
        Case(field: "", available: both, expected: .identity),
        Case(field: "  ,  , ", available: both, expected: .identity),
        Case(field: "deflate, zstd, compress", available: both, expected: .identity),
        Case(field: "gzip, deflate, br", available: [], expected: .identity),
        // Plain lists: the server's preference at equal weight.
        Case(field: "gzip", available: both, expected: .gzip),
        Case(field: "br", available: both, expected: .brotli),
        Case(field: "gzip, deflate, br", available: both, expected: .brotli),
        Case(field: "gzip, deflate, br, zstd", available: [.gzip], expected: .gzip),
        Case(field: "br", available: [.gzip], expected: .identity),
        Case(field: "gzip;q=1.0, br;q=1", available: both, expected: .brotli),
        // Weights.
        Case(field: "gzip;q=0.5, br;q=0.4", available: both, expected: .gzip),
        Case(field: "gzip;q=0.4, br;q=0.5", available: both, expected: .brotli),
        Case(field: "br;q=0.001, gzip;q=0.002", available: both, expected: .gzip),
        Case(field: "gzip;q=0.5, identity", available: both, expected: .identity),
        Case(field: "gzip;q=0.5, identity;q=0.5", available: both, expected: .gzip),
        Case(field: "gzip;q=0.001", available: both, expected: .gzip),
        // q=0 excludes.
        Case(field: "gzip;q=0", available: both, expected: .identity),
        Case(field: "br;q=0, gzip", available: both, expected: .gzip),
        Case(field: "br;q=0.000, gzip;q=0.0", available: both, expected: .identity),
        Case(field: "identity;q=0", available: both, expected: nil),
        Case(field: "identity;q=0, gzip", available: both, expected: .gzip),
        Case(field: "identity;q=0, gzip", available: [], expected: nil),
        // The wildcard covers what is not listed, identity included.
        Case(field: "*", available: both, expected: .brotli),
        Case(field: "*", available: [.gzip], expected: .gzip),
        Case(field: "*;q=0.1", available: both, expected: .brotli),
        Case(field: "*;q=0.1", available: [], expected: .identity),
        Case(field: "*;q=0", available: both, expected: nil),
        Case(field: "*;q=0, identity", available: both, expected: .identity),
        Case(field: "*;q=0, gzip", available: both, expected: .gzip),
        Case(field: "br;q=0, *", available: both, expected: .gzip),
        Case(field: "gzip;q=0.2, *;q=0.5", available: both, expected: .brotli),
        Case(field: "*;q=0.5, identity;q=0.8", available: both, expected: .identity),
        Case(field: "*, identity;q=0", available: [], expected: nil),
        // Case, aliases and whitespace.
        Case(field: "GZIP", available: both, expected: .gzip),
        Case(field: "Br;Q=0.9, GZip;q=0.8", available: both, expected: .brotli),
        Case(field: "x-gzip", available: both, expected: .gzip),
        Case(field: "X-GZIP;q=0.3, identity;q=0.2", available: both, expected: .gzip),
        Case(field: " \tgzip \t; \tq=0.5 ,\tbr ; q=0.6 ", available: both, expected: .brotli),
        Case(field: "gzip,br", available: both, expected: .brotli),
        // A coding named twice keeps its first weight.
        Case(field: "gzip;q=0, gzip", available: both, expected: .identity),
        Case(field: "gzip, gzip;q=0", available: both, expected: .gzip),
        // Malformed members are ignored, the rest still counts.
        Case(field: "br;q=2, gzip", available: both, expected: .gzip),
        Case(field: "br;q=1.5, gzip;q=0.1", available: both, expected: .gzip),
        Case(field: "br;q=0.1234, gzip;q=0.1", available: both, expected: .gzip),
        Case(field: "br;q=abc, gzip;q=0.1", available: both, expected: .gzip),
        Case(field: "br;q=, gzip;q=0.1", available: both, expected: .gzip),
        Case(field: "br;q=-1, gzip;q=0.1", available: both, expected: .gzip),
        Case(field: "br;q=.5, gzip;q=0.1", available: both, expected: .gzip),
        Case(field: "identity;q=0x, gzip;q=0", available: both, expected: .identity),
        Case(field: "g zip, br", available: both, expected: .brotli),
        Case(field: "gzip\"; br", available: both, expected: .identity),
        Case(field: ";q=0.5, gzip", available: both, expected: .gzip),
        Case(field: "é, gzip", available: both, expected: .gzip),
        Case(field: ";;;,,,===", available: both, expected: .identity),
        // Parameters other than q are skipped; only the first q counts.
        Case(field: "br;level=3, gzip;q=0.5", available: both, expected: .brotli),
        Case(field: "br;q=0.1;q=0.9, gzip;q=0.5", available: both, expected: .gzip),
        Case(field: "br;foo, gzip;q=0.5", available: both, expected: .brotli),
    ]

    @Test(arguments: cases)
    func negotiate(_ testCase: Case) {
        #expect(AcceptEncoding(testCase.field).negotiate(available: testCase.available) == testCase.expected)
    }

    @Test func weights() {
        let field = AcceptEncoding("gzip;q=0.5, br;q=0.055, identity;q=1.000")
        #expect(field.weight(of: .gzip) == 500)
        #expect(field.weight(of: .brotli) == 55)
        #expect(field.weight(of: .identity) == 1000)
        #expect(AcceptEncoding("gzip").weight(of: .identity) == 1, "identity by default: acceptable, least preferred")
        #expect(AcceptEncoding(nil).weight(of: .gzip) == 0)
        #expect(AcceptEncoding.absent == AcceptEncoding(nil))
        #expect(AcceptEncoding("*;q=0").accepts(.identity) == false)
        #expect(AcceptEncoding("gzip;q=0").accepts(.gzip) == false)
    }

    @Test func severalFieldLinesCombine() {
        let field = AcceptEncoding(fieldValues: ["gzip;q=0.5", "br;q=0.9", "gzip"])
        #expect(field.weight(of: .gzip) == 500)
        #expect(field.negotiate(available: [.brotli, .gzip]) == .brotli)
        #expect(AcceptEncoding(fieldValues: ["identity;q=0", "*;q=0"]).negotiate(available: []) == nil)
    }

    @Test(arguments: [
        ("0", 0), ("1", 1000), ("0.5", 500), ("0.05", 50), ("0.005", 5), ("0.123", 123), ("1.", 1000),
        ("1.000", 1000), ("0.", 0),
    ])
    func validQValues(text: String, thousandths: Int) {
        #expect(AcceptEncoding.qvalue(Substring(text)) == thousandths)
    }

    @Test(arguments: ["", "2", "1.001", "1.5", "0.1234", ".5", "-0", "0,5", "0.5x", "01", "0.a", " 0.5", "1e0"])
    func invalidQValues(text: String) {
        #expect(AcceptEncoding.qvalue(Substring(text)) == nil)
    }

    @Test func contentCodingTokens() {
        #expect(ContentCoding.brotli.token == "br")
        #expect(ContentCoding.gzip.token == "gzip")
        #expect(ContentCoding(token: "X-Gzip") == .gzip)
        #expect(ContentCoding(token: "IDENTITY") == .identity)
        #expect(ContentCoding(token: "deflate") == nil)
        #expect(ContentCoding(token: "*") == nil)
    }
}
