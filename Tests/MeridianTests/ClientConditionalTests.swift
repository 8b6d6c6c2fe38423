import NIOHTTP1
import Testing

@testable import MeridianCache

private let received = 1_700_000_000.0

private func httpDate(_ epoch: Double) -> String {
    CacheFieldSyntax.formatDate(epoch)
}

private func entry(_ headers: [(String, String)]) -> CacheEntryMetadata {
    let fields = HTTPHeaders(headers)
    return CacheEntryMetadata(
        status: 200, headers: fields, requestTime: received, responseTime: received, correctedInitialAge: 0,
        freshnessLifetime: 60, isHeuristic: false, control: CacheControl(fields), varyFields: [],
        etag: fields.first(name: "etag"), lastModified: fields.first(name: "last-modified"), tags: [], bodyLength: nil)
}

private func notModified(_ request: [(String, String)], _ stored: [(String, String)]) -> Bool {
    ClientConditional.notModified(requestHeaders: HTTPHeaders(request), entry: entry(stored))
}

@Suite struct ClientConditionalTests {
    @Test("RFC 9110 §13.1.2, §8.8.3.2: If-None-Match uses weak comparison, W/ on either side ignored")
    func weakComparison() {
        #expect(notModified([("If-None-Match", "\"v1\"")], [("ETag", "\"v1\"")]))
        #expect(notModified([("If-None-Match", "W/\"v1\"")], [("ETag", "\"v1\"")]))
        #expect(notModified([("If-None-Match", "\"v1\"")], [("ETag", "W/\"v1\"")]))
        #expect(!notModified([("If-None-Match", "\"v2\"")], [("ETag", "\"v1\"")]))
        #expect(!notModified([("If-None-Match", "\"V1\"")], [("ETag", "\"v1\"")]))
    }

    @Test("RFC 9110 §13.1.2: a list of entity tags, across lines, commas inside tags respected")
    func lists() {
        #expect(notModified([("If-None-Match", "\"a\", W/\"b\" ,\"c\"")], [("ETag", "\"b\"")]))
        #expect(notModified([("If-None-Match", "\"a\""), ("If-None-Match", "\"c\"")], [("ETag", "\"c\"")]))
        #expect(notModified([("If-None-Match", "\"x,y\", \"z\"")], [("ETag", "\"x,y\"")]))
        #expect(!notModified([("If-None-Match", "\"x,y\"")], [("ETag", "\"x\"")]))
    }

    @Test("RFC 9110 §13.1.2: * matches any stored representation")
    func star() {
        #expect(notModified([("If-None-Match", "*")], [("ETag", "\"v1\"")]))
        #expect(notModified([("If-None-Match", "*")], [("Date", httpDate(received))]))
    }

    @Test("RFC 9110 §13.1.2: without a stored ETag only * matches")
    func noStoredETag() {
        #expect(!notModified([("If-None-Match", "\"v1\"")], [("Last-Modified", httpDate(received - 10))]))
    }

    @Test("RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present")
    func ifNoneMatchWins() {
        let stored = [("ETag", "\"v1\""), ("Last-Modified", httpDate(received - 100))]
        #expect(!notModified([("If-None-Match", "\"v2\""), ("If-Modified-Since", httpDate(received))], stored))
    }

    @Test("RFC 9111 §4.3.2: If-Modified-Since against Last-Modified: not modified when stored ≤ IMS")
    func ifModifiedSince() {
        let stored = [("Last-Modified", httpDate(received - 100))]
        #expect(notModified([("If-Modified-Since", httpDate(received - 100))], stored))
        #expect(notModified([("If-Modified-Since", httpDate(received - 50))], stored))
        #expect(!notModified([("If-Modified-Since", httpDate(received - 101))], stored))
    }

    @Test("RFC 9111 §4.3.2: without Last-Modified the stored Date is compared")
    func ifModifiedSinceDate() {
        let stored = [("Date", httpDate(received - 30))]
        #expect(notModified([("If-Modified-Since", httpDate(received - 30))], stored))
        #expect(!notModified([("If-Modified-Since", httpDate(received - 31))], stored))
        // No Date either: the time the response was received.
        #expect(notModified([("If-Modified-Since", httpDate(received))], []))
        #expect(!notModified([("If-Modified-Since", httpDate(received - 1))], []))
    }

    @Test("RFC 9110 §13.1.3: an invalid or repeated If-Modified-Since date is ignored")
    func invalidIfModifiedSince() {
        let stored = [("Last-Modified", httpDate(received - 100))]
        #expect(!notModified([("If-Modified-Since", "yesterday")], stored))
        #expect(
            !notModified(
                [("If-Modified-Since", httpDate(received)), ("If-Modified-Since", httpDate(received - 1))], stored))
        #expect(!notModified([], stored))
    }

    @Test("RFC 9110 §15.4.5: a 304 carries Cache-Control, Content-Location, Date, ETag, Expires, Vary")
    func notModifiedHeaders() {
        let stored = entry([
            ("Date", "d"), ("Content-Type", "text/html"), ("ETag", "\"v\""), ("Cache-Control", "max-age=60"),
            ("Content-Length", "10"), ("Last-Modified", "lm"), ("Vary", "Accept-Encoding"), ("Expires", "e"),
            ("Content-Location", "/a"), ("X-Other", "o"), ("Vary", "Accept-Language"),
        ])
        let headers = ClientConditional.notModifiedHeaders(entry: stored)
        #expect(
            headers.map(\.name) == ["Date", "ETag", "Cache-Control", "Vary", "Expires", "Content-Location", "Vary"])
    }

    @Test("RFC 9110 §15.4.5: Last-Modified is sent in a 304 only when there is no ETag")
    func lastModifiedWithoutETag() {
        let headers = ClientConditional.notModifiedHeaders(entry: entry([("Last-Modified", "lm"), ("X-A", "a")]))
        #expect(headers.map(\.name) == ["Last-Modified"])
    }
}
