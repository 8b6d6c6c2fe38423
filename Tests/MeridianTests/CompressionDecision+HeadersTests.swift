import MeridianCompression
import Testing

@Suite struct CompressionDecisionHeadersTests {
    typealias Fields = [(name: String, value: String)]

    func applied(_ decision: CompressionDecision, _ fields: Fields, status: Int = 200) -> [String] {
        var fields = fields
        decision.apply(to: &fields, status: status)
        return fields.map { "\($0.name): \($0.value)" }
    }

    @Test func compressedVariant() {
        let fields: Fields = [
            ("Content-Type", "text/html"), ("Content-Length", "1234"), ("ETag", "\"abc\""),
            ("Accept-Ranges", "bytes"), ("Last-Modified", "Tue, 01 Jul 2025 00:00:00 GMT"),
            ("Content-Digest", "sha-256=:x:"),
        ]
        #expect(
            applied(.compress(.gzip), fields) == [
                "Content-Type: text/html", "ETag: W/\"abc\"", "Last-Modified: Tue, 01 Jul 2025 00:00:00 GMT",
                "Vary: Accept-Encoding", "Content-Encoding: gzip",
            ]
        )
        #expect(
            applied(.compress(.brotli), [("content-length", "5")]) == ["Vary: Accept-Encoding", "Content-Encoding: br"])
    }

    @Test func varyIsMerged() {
        #expect(
            applied(.compress(.gzip), [("Vary", "Origin")]) == [
                "Vary: Origin, Accept-Encoding", "Content-Encoding: gzip",
            ])
        #expect(
            applied(.compress(.gzip), [("vary", "accept-encoding")]) == [
                "vary: accept-encoding", "Content-Encoding: gzip",
            ])
        #expect(
            applied(.compress(.gzip), [("Vary", "Origin"), ("Vary", "Accept-Encoding ")]).prefix(2) == [
                "Vary: Origin", "Vary: Accept-Encoding ",
            ])
        #expect(applied(.compress(.gzip), [("Vary", "*")]) == ["Vary: *", "Content-Encoding: gzip"])
        #expect(applied(.compress(.gzip), [("Vary", "")]) == ["Vary: Accept-Encoding", "Content-Encoding: gzip"])
        #expect(
            applied(.compress(.gzip), [("Vary", "Origin,Cookie"), ("Vary", "User-Agent")]).prefix(2) == [
                "Vary: Origin,Cookie, Accept-Encoding", "Vary: User-Agent",
            ])
    }

    /// Identity responses of a compressible resource still say that they vary; the others are left alone.
    @Test func identityResponses() {
        let fields: Fields = [("Content-Length", "10"), ("ETag", "\"abc\""), ("Accept-Ranges", "bytes")]
        #expect(
            applied(.skip(.notAcceptable), fields) == [
                "Content-Length: 10", "ETag: \"abc\"", "Accept-Ranges: bytes", "Vary: Accept-Encoding",
            ]
        )
        #expect(applied(.skip(.range), fields).last == "Vary: Accept-Encoding")
        #expect(applied(.skip(.tooSmall), fields) == ["Content-Length: 10", "ETag: \"abc\"", "Accept-Ranges: bytes"])
        #expect(applied(.skip(.alreadyEncoded), [("Content-Encoding", "gzip")]) == ["Content-Encoding: gzip"])
    }

    @Test func eTags() {
        #expect(applied(.compress(.gzip), [("ETag", "W/\"abc\"")]).first == "ETag: W/\"abc\"")
        #expect(applied(.compress(.gzip), [("etag", "\"\"")]).first == "etag: W/\"\"")
        #expect(applied(.compress(.gzip), [("ETag", "abc")]) == ["Vary: Accept-Encoding", "Content-Encoding: gzip"])
    }

    @Test func contentEncodingIdentityIsReplaced() {
        #expect(
            applied(.compress(.gzip), [("Content-Encoding", "identity")]) == [
                "Vary: Accept-Encoding", "Content-Encoding: gzip",
            ])
    }

    /// A 304 validates the compressed variant the client holds: it carries that variant's Vary and ETag only.
    @Test func notModified() {
        let fields: Fields = [("ETag", "\"abc\""), ("Cache-Control", "max-age=60")]
        #expect(
            applied(.compress(.gzip), fields, status: 304) == [
                "ETag: W/\"abc\"", "Cache-Control: max-age=60", "Vary: Accept-Encoding",
            ]
        )
    }
}
