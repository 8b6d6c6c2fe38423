import MeridianCompression
import Testing

@Suite struct CompressionPolicyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var status = 200
        var headers: [(name: String, value: String)] = [("Content-Type", "text/html; charset=utf-8")]
        var bodyLength: Int? = 10_000
        var acceptEncoding: String? = "gzip, deflate, br"
        var requestHasRange = false
        var configuration = CompressionPolicy.Configuration()
        var expected: CompressionDecision
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "HTML to a browser", expected: .compress(.brotli)),
        Case(name: "gzip-only client", acceptEncoding: "gzip", expected: .compress(.gzip)),
        Case(name: "brotli off", configuration: .init(brotliQuality: nil), expected: .compress(.gzip)),
        Case(name: "all off", configuration: .init(gzipLevel: nil, brotliQuality: nil), expected: .skip(.disabled)),
        Case(name: "a stream of unknown length", bodyLength: nil, expected: .compress(.brotli)),
        Case(
            name: "HEAD or 304 are decided as GET and 200", status: 304, bodyLength: nil, expected: .compress(.brotli)),
        Case(name: "error pages too", status: 404, expected: .compress(.brotli)),
        // Statuses without content.
        Case(name: "204", status: 204, expected: .skip(.noBody)),
        Case(name: "205", status: 205, expected: .skip(.noBody)),
        Case(name: "103", status: 103, expected: .skip(.noBody)),
        Case(name: "101", status: 101, expected: .skip(.noBody)),
        // Already encoded.
        Case(
            name: "precompressed file",
            headers: [("Content-Type", "text/css"), ("Content-Encoding", "gzip")],
            expected: .skip(.alreadyEncoded)
        ),
        Case(
            name: "upstream's brotli",
            headers: [("content-encoding", "br"), ("content-type", "application/json")],
            expected: .skip(.alreadyEncoded)
        ),
        Case(
            name: "Content-Encoding: identity is no encoding",
            headers: [("Content-Type", "text/css"), ("Content-Encoding", "Identity")],
            expected: .compress(.brotli)
        ),
        // no-transform.
        Case(
            name: "no-transform",
            headers: [("Content-Type", "text/css"), ("Cache-Control", "public, No-Transform, max-age=60")],
            expected: .skip(.noTransform)
        ),
        Case(
            name: "other Cache-Control",
            headers: [("Content-Type", "text/css"), ("Cache-Control", "no-cache, no-transformation")],
            expected: .compress(.brotli)
        ),
        // Media types.
        Case(name: "no Content-Type", headers: [], expected: .skip(.contentType)),
        Case(name: "PNG", headers: [("Content-Type", "image/png")], expected: .skip(.contentType)),
        Case(name: "SVG", headers: [("Content-Type", "image/svg+xml")], expected: .compress(.brotli)),
        Case(name: "MP4", headers: [("Content-Type", "video/mp4")], expected: .skip(.contentType)),
        Case(name: "zip", headers: [("Content-Type", "application/zip")], expected: .skip(.contentType)),
        Case(name: "binary", headers: [("Content-Type", "application/octet-stream")], expected: .skip(.contentType)),
        Case(name: "JSON", headers: [("Content-Type", "application/json")], expected: .compress(.brotli)),
        Case(
            name: "problem+json",
            headers: [("Content-Type", "application/problem+json; charset=utf-8")],
            expected: .compress(.brotli)
        ),
        Case(name: "Atom", headers: [("Content-Type", "application/atom+xml")], expected: .compress(.brotli)),
        Case(name: "uppercase", headers: [("CONTENT-TYPE", "TEXT/HTML")], expected: .compress(.brotli)),
        Case(name: "event stream", headers: [("Content-Type", "text/event-stream")], expected: .compress(.brotli)),
        Case(name: "wasm", headers: [("Content-Type", "application/wasm")], expected: .compress(.brotli)),
        Case(name: "woff2", headers: [("Content-Type", "font/woff2")], expected: .skip(.contentType)),
        Case(name: "malformed type", headers: [("Content-Type", "text")], expected: .skip(.contentType)),
        // Length.
        Case(name: "255 bytes", bodyLength: 255, expected: .skip(.tooSmall)),
        Case(name: "256 bytes", bodyLength: 256, expected: .compress(.brotli)),
        Case(name: "empty body", bodyLength: 0, expected: .skip(.tooSmall)),
        Case(
            name: "short proxied stream",
            headers: [("Content-Type", "text/html"), ("Content-Length", "100")],
            bodyLength: nil,
            expected: .skip(.tooSmall)
        ),
        Case(
            name: "long proxied stream",
            headers: [("Content-Type", "text/html"), ("Content-Length", "100000")],
            bodyLength: nil,
            expected: .compress(.brotli)
        ),
        Case(
            name: "minimum 0",
            bodyLength: 0,
            configuration: .init(minimumLength: 0),
            expected: .compress(.brotli)
        ),
        // Ranges.
        Case(name: "Range request", requestHasRange: true, expected: .skip(.range)),
        Case(name: "206", status: 206, expected: .skip(.range)),
        Case(
            name: "Content-Range",
            headers: [("Content-Type", "text/html"), ("Content-Range", "bytes 0-99/1000")],
            expected: .skip(.range)
        ),
        // The client.
        Case(name: "no Accept-Encoding", acceptEncoding: nil, expected: .skip(.notAcceptable)),
        Case(name: "empty Accept-Encoding", acceptEncoding: "", expected: .skip(.notAcceptable)),
        Case(name: "identity preferred", acceptEncoding: "gzip;q=0.5, identity", expected: .skip(.notAcceptable)),
        Case(name: "nothing acceptable", acceptEncoding: "*;q=0", expected: .skip(.notAcceptable)),
        Case(name: "deflate only", acceptEncoding: "deflate", expected: .skip(.notAcceptable)),
        // Order: the representation's reasons come before the request's.
        Case(
            name: "encoded and a range",
            headers: [("Content-Type", "text/css"), ("Content-Encoding", "gzip")],
            requestHasRange: true,
            expected: .skip(.alreadyEncoded)
        ),
        Case(name: "small and not accepted", bodyLength: 10, acceptEncoding: nil, expected: .skip(.tooSmall)),
        Case(
            name: "image and a range", headers: [("Content-Type", "image/png")], requestHasRange: true,
            expected: .skip(.contentType)),
    ]

    @Test(arguments: cases)
    func decide(_ testCase: Case) {
        let policy = CompressionPolicy(testCase.configuration)
        let decision = policy.decide(
            status: testCase.status,
            headers: testCase.headers,
            bodyLength: testCase.bodyLength,
            acceptEncoding: AcceptEncoding(testCase.acceptEncoding),
            requestHasRange: testCase.requestHasRange
        )
        #expect(decision == testCase.expected)
    }

    @Test func varyFollowsTheReason() {
        #expect(CompressionDecision.compress(.gzip).variesByAcceptEncoding)
        #expect(CompressionDecision.skip(.notAcceptable).variesByAcceptEncoding)
        #expect(CompressionDecision.skip(.range).variesByAcceptEncoding)
        for reason: CompressionSkipReason in [
            .disabled, .noBody, .alreadyEncoded, .noTransform, .contentType, .tooSmall,
        ] {
            #expect(!CompressionDecision.skip(reason).variesByAcceptEncoding, "\(reason)")
        }
        #expect(CompressionDecision.compress(.brotli).coding == .brotli)
        #expect(CompressionDecision.skip(.tooSmall).coding == nil)
    }

    @Test(arguments: [
        ("text/plain", true), ("text/css;charset=utf-8", true), (" application/javascript ", true),
        ("application/x-javascript", true), ("application/manifest+json", true), ("application/ld+json", true),
        ("application/vnd.api+json", true), ("application/xml", true), ("application/rss+xml", true),
        ("font/ttf", true), ("font/otf", true), ("image/svg+xml", true), ("application/wasm", true),
        ("image/jpeg", false), ("image/webp", false), ("audio/mpeg", false), ("video/webm", false),
        ("application/gzip", false), ("application/x-7z-compressed", false), ("application/pdf", false),
        ("application/jsonx", false), ("textual/html", false), ("", false), ("/", false), ("text/", false),
    ])
    func defaultContentTypes(contentType: String, compressible: Bool) {
        #expect(CompressionPolicy().isCompressible(contentType: contentType) == compressible)
    }

    /// The most specific pattern decides, and an exclusion wins a tie.
    @Test func specificPatternsWin() throws {
        let everything = CompressionPolicy(.init(contentTypes: [try #require(MediaTypePattern("*/*"))]))
        #expect(everything.isCompressible(contentType: "application/pdf"))
        #expect(!everything.isCompressible(contentType: "image/png"), "excluded image/* beats */*")
        #expect(everything.isCompressible(contentType: "image/svg+xml") == false, "svg is only named by the defaults")

        let pngToo = CompressionPolicy(.init(contentTypes: [try #require(MediaTypePattern("image/png"))]))
        #expect(pngToo.isCompressible(contentType: "image/png"), "an exact type beats the excluded image/*")

        let tie = CompressionPolicy(
            .init(
                contentTypes: [try #require(MediaTypePattern("text/*"))],
                excludedContentTypes: [try #require(MediaTypePattern("text/*"))]
            )
        )
        #expect(!tie.isCompressible(contentType: "text/html"))
    }

    @Test(arguments: ["text/html", "TEXT/*", "application/*+json", "*/*", "font/woff2"])
    func validPatterns(text: String) throws {
        #expect(try #require(MediaTypePattern(text)).description == text.lowercased())
    }

    @Test(arguments: ["", "text", "*/html", "text/", "/html", "text/ht*ml", "text/*+", "text/html; q=1", "a/b/c"])
    func invalidPatterns(text: String) {
        #expect(MediaTypePattern(text) == nil)
    }
}
