import NIOHTTP1
import Testing

@testable import MeridianCache

private func key(
    method: String = "GET", path: Substring = "/a/b", query: Substring?, options: KeyOptions = KeyOptions()
) -> String {
    CacheKey.primary(method: method, scheme: "https", host: "example.com", path: path, query: query, options: options)
        .primary
}

@Suite struct CacheKeyTests {
    @Test("RFC 9111 §2: the primary key is the method and the target URI, readable")
    func format() {
        #expect(key(query: "x=1") == "GET https://example.com/a/b?x=1")
        #expect(key(query: nil) == "GET https://example.com/a/b")
        #expect(key(query: "") == "GET https://example.com/a/b")
    }

    @Test("RFC 9110 §9.3.2: HEAD is keyed as GET")
    func headIsGet() {
        #expect(key(method: "HEAD", query: nil) == key(query: nil))
    }

    @Test("Query parameters are sorted by name then value, empty ones dropped")
    func sorted() {
        #expect(key(query: "b=2&a=1&&a=0&c&") == "GET https://example.com/a/b?a=0&a=1&b=2&c")
        #expect(key(query: "a=&a") == "GET https://example.com/a/b?a&a=")
        #expect(key(query: "&&=&") == "GET https://example.com/a/b")
    }

    @Test("sortQuery off keeps the client's order; includeQuery off drops the query")
    func unsortedAndWithoutQuery() {
        #expect(key(query: "b=2&a=1", options: KeyOptions(sortQuery: false)) == "GET https://example.com/a/b?b=2&a=1")
        #expect(key(query: "b=2", options: KeyOptions(includeQuery: false)) == "GET https://example.com/a/b")
    }

    @Test("Ignored parameters are removed, matched by decoded name")
    func ignored() {
        let options = KeyOptions(ignoredQueryParameters: ["utm_source", "fbclid"])
        #expect(
            key(query: "utm_source=x&id=5&%75tm_source=y&fbclid&utm_sourcex=1", options: options)
                == "GET https://example.com/a/b?id=5&utm_sourcex=1")
        #expect(key(query: "utm_source=x", options: options) == "GET https://example.com/a/b")
    }

    @Test("RFC 3986 §6.2.2: unreserved percent-encodings decoded, other hex upper-cased, invalid ones kept")
    func percentEncoding() {
        #expect(key(query: "q=%7e%41%2d%2f%e2%82%ac") == "GET https://example.com/a/b?q=~A-%2F%E2%82%AC")
        #expect(key(query: "q=%zz%4&r=100%") == "GET https://example.com/a/b?q=%zz%4&r=100%")
        #expect(key(query: "%61=1&a=0") == "GET https://example.com/a/b?a=0&a=1")
    }

    @Test("A URL (and any prefix of it) is a string prefix of the key after the method")
    func urlPrefix() {
        let options = KeyOptions(ignoredQueryParameters: ["x"])
        let url = CacheKey.url(
            scheme: "https", host: "example.com", path: "/a/b", query: "z=1&x=2&y=%7e",
            options: options)
        #expect(url == "https://example.com/a/b?y=~&z=1")
        #expect(key(query: "z=1&x=2&y=%7e", options: options) == "GET " + url)
        #expect(key(query: nil).dropFirst(4).hasPrefix("https://example.com/a/"))
    }

    @Test("RFC 9111 §4.1: the variant key appends normalised request fields named by Vary")
    func variant() {
        let primary = CacheKey(primary: "GET https://example.com/")
        let request: HTTPHeaders = ["Accept-Language": "en ,  fr", "Accept-Encoding": "gzip, br"]
        #expect(
            primary.variant(fields: ["accept-encoding", "accept-language"], requestHeaders: request)
                == "GET https://example.com/\u{1F}accept-encoding=br\u{1E}accept-language=en,fr")
        #expect(
            primary.variant(fields: ["x-absent"], requestHeaders: request) == "GET https://example.com/\u{1F}x-absent")
        #expect(
            primary.variant(fields: ["x-empty"], requestHeaders: ["X-Empty": ""] as HTTPHeaders)
                == "GET https://example.com/\u{1F}x-empty=")
    }

    @Test("RFC 9111 §4.1: several field lines match one line with the same members")
    func variantLinesCombined() {
        let primary = CacheKey(primary: "GET https://example.com/")
        let split = HTTPHeaders([("Accept-Language", "en"), ("accept-language", " fr ")])
        let joined: HTTPHeaders = ["Accept-Language": "en, fr"]
        #expect(
            primary.variant(fields: ["accept-language"], requestHeaders: split)
                == primary.variant(fields: ["accept-language"], requestHeaders: joined))
        #expect(
            primary.variant(fields: ["accept-language"], requestHeaders: ["Accept-Language": "de"] as HTTPHeaders)
                != primary.variant(fields: ["accept-language"], requestHeaders: joined))
    }

    @Test("Control characters in a field value cannot forge variant separators")
    func variantControlCharacters() {
        let primary = CacheKey(primary: "GET https://example.com/")
        let variant = primary.variant(fields: ["x-a"], requestHeaders: ["X-A": "a\u{1E}x-b=1"] as HTTPHeaders)
        #expect(variant == "GET https://example.com/\u{1F}x-a=ax-b=1")
    }

    @Test("RFC 9110 §12.5.3: Accept-Encoding variants collapse to br, gzip or identity")
    func variantEncodingCollapse() {
        let primary = CacheKey(primary: "GET https://example.com/")
        let modern = primary.variant(
            fields: ["accept-encoding"], requestHeaders: ["Accept-Encoding": "gzip, deflate, br, zstd"] as HTTPHeaders)
        let brOnly = primary.variant(fields: ["accept-encoding"], requestHeaders: ["accept-encoding": "BR"] as HTTPHeaders)
        #expect(modern == brOnly)
        #expect(primary.variant(fields: ["accept-encoding"], requestHeaders: HTTPHeaders()).hasSuffix("accept-encoding=identity"))
    }

    @Test(
        "RFC 9110 §12.5.3, §12.4.2: the preferred coding honours q-values, br first at equal weight",
        arguments: [
            ([], "identity"),
            (["gzip, deflate, br"], "br"),
            (["gzip;q=1.0, br;q=0.5"], "gzip"),
            (["br;q=0.8, gzip;q=0.8"], "br"),
            (["gzip ; q=0.9", "br;q=0.1"], "gzip"),
            (["identity"], "identity"),
            (["*"], "br"),
            (["*;q=0, gzip"], "gzip"),
            (["br;q=0, gzip;q=0"], "identity"),
            (["x-gzip"], "gzip"),
            (["gzip;q=2"], "identity"),
            (["gzip;q=0.1234"], "identity"),
            (["gzip;q=1.001"], "identity"),
            (["gzip;Q=0.5"], "gzip"),
            (["BR, GZIP"], "br"),
            (["gzip;q=0.5, identity"], "identity"),
            (["gzip;q=0.001, identity;q=0"], "gzip"),
            (["deflate, compress"], "identity"),
            (["br;q=0, br;q=1, gzip;q=0.3"], "gzip"),
            (["*;q=0.5, gzip;q=0.4"], "br"),
            ([", ;q=1, ;;"], "identity"),
        ] as [([String], String)]
    )
    func preferredCoding(acceptEncoding: [String], expected: String) {
        #expect(CacheKey.preferredCoding(acceptEncoding) == expected)
    }

    @Test(
        "RFC 9110 §12.5.3: whether a request can take a stored coding",
        arguments: [
            (["gzip, deflate, br"], "zstd", false),
            (["gzip, deflate, br, zstd"], "zstd", true),
            (["gzip"], "br", false),
            (["br;q=0, *"], "br", false),
            (["*"], "zstd", true),
            (["x-gzip"], "gzip", true),
            ([], "gzip", false),
            ([], "identity", true),
            (["identity;q=0, gzip"], "identity", true),
            (["*;q=0"], "identity", true),
        ] as [([String], String, Bool)]
    )
    func acceptsCoding(acceptEncoding: [String], coding: String, expected: Bool) {
        #expect(CacheKey.accepts(acceptEncoding, coding: coding) == expected)
    }
}
