import NIOHTTP1
import Testing

@testable import MeridianCore
@testable import MeridianStatic

@Suite struct KeepAliveStateMachineTests {
    @Test func http11KeepsAliveUntilCloseAsked() {
        var m = KeepAliveStateMachine(maxRequests: 100)
        #expect(m.requestReceived(version: .http1_1, connectionHeader: []) == .keepAlive(announce: false))
        #expect(m.requestReceived(version: .http1_1, connectionHeader: ["Keep-Alive, Close"]) == .close)
        #expect(m.requestReceived(version: .http1_1, connectionHeader: []) == .close)
    }

    @Test func http10NeedsKeepAlive() {
        var m = KeepAliveStateMachine(maxRequests: 100)
        #expect(m.requestReceived(version: .http1_0, connectionHeader: []) == .close)
        var k = KeepAliveStateMachine(maxRequests: 100)
        #expect(k.requestReceived(version: .http1_0, connectionHeader: ["keep-alive"]) == .keepAlive(announce: true))
    }

    @Test func maxRequestsAndDrainClose() {
        var m = KeepAliveStateMachine(maxRequests: 2)
        #expect(m.requestReceived(version: .http1_1, connectionHeader: []) == .keepAlive(announce: false))
        #expect(m.requestReceived(version: .http1_1, connectionHeader: []) == .close)
        var d = KeepAliveStateMachine(maxRequests: 10)
        d.drain()
        #expect(d.requestReceived(version: .http1_1, connectionHeader: []) == .close)
        #expect(d.isDraining)
    }
}

@Suite struct ByteRangeTests {
    @Test(arguments: [
        ("bytes=0-499", 1000, ByteRangeRequest.ranges([0...499])),
        ("bytes=500-", 1000, .ranges([500...999])),
        ("bytes=-200", 1000, .ranges([800...999])),
        ("bytes=-2000", 1000, .ranges([0...999])),
        ("bytes=0-0,-1", 1000, .ranges([0...0, 999...999])),
        ("bytes=900-5000", 1000, .ranges([900...999])),
        ("bytes=1000-", 1000, .unsatisfiable),
        ("bytes=1000-1001, 2000-", 1000, .unsatisfiable),
        ("bytes=-0", 1000, .unsatisfiable),
        ("bytes=5-1", 1000, .whole),
        ("bytes=abc", 1000, .whole),
        ("items=0-1", 1000, .whole),
        ("bytes=0-1,,3-4", 1000, .whole),
        ("bytes=0-999,0-999,0-999", 1000, .whole),
        ("bytes=0-", 0, .unsatisfiable),
    ])
    func parse(_ header: String, _ size: Int, _ expected: ByteRangeRequest) {
        #expect(ByteRangeRequest.parse(header, size: size) == expected)
    }

    @Test func tooManyRangesServeWhole() {
        let many = "bytes=" + (0..<17).map { "\($0 * 10)-\($0 * 10 + 1)" }.joined(separator: ",")
        #expect(ByteRangeRequest.parse(many, size: 1000) == .whole)
        #expect(ByteRangeRequest.parse(nil, size: 1000) == .whole)
    }
}

@Suite struct ConditionalRequestTests {
    let etag = "\"abc\""
    let modified = 1_000_000
    let before = DateCache.format(epochSeconds: 999_999)
    let same = DateCache.format(epochSeconds: 1_000_000)

    func eval(ifMatch: String? = nil, ius: String? = nil, inm: String? = nil, ims: String? = nil, get: Bool = true) -> ConditionalRequest.Outcome {
        ConditionalRequest.evaluate(ifMatch: ifMatch, ifUnmodifiedSince: ius, ifNoneMatch: inm, ifModifiedSince: ims, etag: etag, lastModified: modified, isGetOrHead: get)
    }

    @Test func ifNoneMatch() {
        #expect(eval(inm: "\"abc\"") == .notModified)
        #expect(eval(inm: "W/\"abc\"") == .notModified)
        #expect(eval(inm: "\"x\", \"abc\"") == .notModified)
        #expect(eval(inm: "*") == .notModified)
        #expect(eval(inm: "\"x\"") == .proceed)
        #expect(eval(inm: "\"abc\"", get: false) == .preconditionFailed)
    }

    @Test func ifModifiedSinceOnlyWithoutIfNoneMatch() {
        #expect(eval(ims: same) == .notModified)
        #expect(eval(ims: before) == .proceed)
        #expect(eval(inm: "\"x\"", ims: same) == .proceed)
        #expect(eval(ims: "garbage") == .proceed)
    }

    @Test func ifMatchAndUnmodifiedSince() {
        #expect(eval(ifMatch: "\"abc\"") == .proceed)
        #expect(eval(ifMatch: "W/\"abc\"") == .preconditionFailed)
        #expect(eval(ifMatch: "\"zzz\"") == .preconditionFailed)
        #expect(eval(ius: before) == .preconditionFailed)
        #expect(eval(ius: same) == .proceed)
    }

    @Test func ifRange() {
        #expect(ConditionalRequest.ifRangeAllows(nil, etag: etag, lastModified: modified))
        #expect(ConditionalRequest.ifRangeAllows("\"abc\"", etag: etag, lastModified: modified))
        #expect(!ConditionalRequest.ifRangeAllows("W/\"abc\"", etag: etag, lastModified: modified))
        #expect(!ConditionalRequest.ifRangeAllows("\"old\"", etag: etag, lastModified: modified))
        #expect(ConditionalRequest.ifRangeAllows(same, etag: etag, lastModified: modified))
        #expect(!ConditionalRequest.ifRangeAllows(before, etag: etag, lastModified: modified))
    }

    @Test func httpDates() {
        #expect(DateCache.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777)
        #expect(DateCache.parse("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777)
        #expect(DateCache.parse("Sun Nov  6 08:49:37 1994") == 784111777)
        #expect(DateCache.format(epochSeconds: 784111777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(DateCache.parse("yesterday") == nil)
    }
}

@Suite struct AcceptEncodingTests {
    @Test(arguments: [
        ("br, gzip", "br"),
        ("gzip, br", "br"),
        ("gzip", "gzip"),
        ("gzip;q=1, br;q=0.5", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("identity", nil),
        ("*", "br"),
        ("*;q=0, gzip", "gzip"),
        ("deflate", nil),
        ("br;q=0.5, identity;q=1", nil),
        ("", nil),
    ] as [(String, String?)])
    func choose(_ header: String, _ expected: String?) {
        #expect(AcceptEncoding.choose(header, available: ["br", "gzip"]) == expected)
    }

    @Test func noHeaderMeansIdentity() {
        #expect(AcceptEncoding.choose(nil, available: ["br"]) == nil)
    }
}

@Suite struct StaticPathTests {
    @Test(arguments: [
        ("/a/b.txt", StaticPath.Outcome.file(segments: ["a", "b.txt"], trailingSlash: false)),
        ("/dir/", .file(segments: ["dir"], trailingSlash: true)),
        ("/a%20b", .file(segments: ["a b"], trailingSlash: false)),
        ("/%252e%252e/x", .file(segments: ["%2e%2e", "x"], trailingSlash: false)),
        ("/a%2fb", .badRequest("encoded slash in path")),
        ("/a%00b", .badRequest("NUL byte in path")),
        ("/a%5c..%5cb", .badRequest("backslash in path")),
        ("/a\\b", .badRequest("backslash in path")),
        ("/%zz", .badRequest("malformed percent-encoding")),
        ("/.env", .notFound),
        ("/a/.git/config", .notFound),
        ("/.well-known/x", .file(segments: [".well-known", "x"], trailingSlash: false)),
        ("/%ff", .badRequest("path is not UTF-8")),
    ])
    func resolve(_ path: String, _ expected: StaticPath.Outcome) {
        #expect(StaticPath.resolve(Substring(path), stripPrefix: nil, allowDotfiles: false) == expected)
    }

    @Test func stripPrefixAndDotfilesAllowed() {
        #expect(StaticPath.resolve("/assets/x.css", stripPrefix: "/assets", allowDotfiles: false) == .file(segments: ["x.css"], trailingSlash: false))
        #expect(StaticPath.resolve("/.env", stripPrefix: nil, allowDotfiles: true) == .file(segments: [".env"], trailingSlash: false))
    }

    @Test func mimeTypes() {
        #expect(MIMETypes.type(forPath: "/a/index.html") == "text/html; charset=utf-8")
        #expect(MIMETypes.type(forPath: "/x.WOFF2") == "font/woff2")
        #expect(MIMETypes.type(forPath: "/noext") == "application/octet-stream")
        #expect(MIMETypes.type(forPath: "/dir.d/noext") == "application/octet-stream")
        #expect(MIMETypes.type(forPath: "/.hidden") == "application/octet-stream")
    }
}
