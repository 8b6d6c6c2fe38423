import NIOHTTP1
import Testing

@testable import MeridianCache

private func targets(
    method: HTTPMethod = .POST, status: Int = 200, path: Substring = "/api/items", query: Substring? = nil,
    _ response: [(String, String)] = [], options: KeyOptions = KeyOptions()
) -> [String] {
    Invalidation.targets(
        method: method, status: status, scheme: "https", host: "example.com", path: path, query: query,
        responseHeaders: HTTPHeaders(response), options: options
    ).map(\.primary)
}

@Suite struct InvalidationTests {
    @Test("RFC 9111 §4.4: an unsafe method with a 2xx invalidates the target URI's GET key")
    func target() {
        #expect(targets(query: "b=1&a=2") == ["GET https://example.com/api/items?a=2&b=1"])
    }

    @Test(
        "RFC 9110 §9.2.1: safe methods invalidate nothing",
        arguments: [
            HTTPMethod.GET, .HEAD, .OPTIONS, .TRACE,
        ])
    func safeMethods(method: HTTPMethod) {
        #expect(targets(method: method).isEmpty)
    }

    @Test(
        "RFC 9111 §4.4: unknown methods count as unsafe",
        arguments: [
            HTTPMethod.PUT, .DELETE, .PATCH, .RAW(value: "PURGE"), .RAW(value: "FROB"),
        ])
    func unsafeMethods(method: HTTPMethod) {
        #expect(targets(method: method) == ["GET https://example.com/api/items"])
    }

    @Test(
        "RFC 9111 §4.4: error statuses invalidate nothing; 3xx does",
        arguments: [
            (100, false), (302, true), (399, true), (400, false), (404, false), (500, false), (503, false),
        ])
    func statuses(status: Int, invalidates: Bool) {
        #expect(targets(status: status).isEmpty == !invalidates)
    }

    @Test("RFC 9111 §4.4: Location and Content-Location on the same origin are invalidated too")
    func sameOrigin() {
        let keys = targets([
            ("Location", "https://EXAMPLE.com:443/api/items/7#top"), ("Content-Location", "/api/items/7?v=1"),
        ])
        #expect(
            keys == [
                "GET https://example.com/api/items", "GET https://example.com/api/items/7",
                "GET https://example.com/api/items/7?v=1",
            ])
    }

    @Test("RFC 9111 §4.4: a URI on another host, scheme, port or with user info is ignored")
    func otherOrigin() {
        for location in [
            "https://other.example/api/items/7", "http://example.com/api/items/7", "https://example.com:8443/x",
            "//other.example/x", "https://user@example.com/x", "mailto:a@example.com", "https:relative",
        ] {
            #expect(targets([("Location", location)]) == ["GET https://example.com/api/items"], "\(location)")
        }
    }

    @Test("RFC 3986 §5.2: relative references resolve against the request path")
    func relative() {
        #expect(targets([("Content-Location", "items/5")]).last == "GET https://example.com/api/items/5")
        #expect(targets(path: "/api/items/", [("Location", "5")]).last == "GET https://example.com/api/items/5")
        #expect(targets(path: "/a/b/c", [("Location", "../x/./y")]).last == "GET https://example.com/a/x/y")
        #expect(targets(path: "/a/b", [("Location", "../../../z")]).last == "GET https://example.com/z")
        #expect(targets([("Location", "//example.com/n")]).last == "GET https://example.com/n")
        #expect(targets(query: "a=1", [("Location", "?b=2")]).last == "GET https://example.com/api/items?b=2")
        #expect(targets([("Location", "/p/%7euser/%2f")]).last == "GET https://example.com/p/~user/%2F")
    }

    @Test("RFC 9111 §4.4: a reference to the target itself is not listed twice")
    func deduplicated() {
        #expect(
            targets(query: "a=1", [("Location", "#frag"), ("Content-Location", "/api/items?a=1")])
                == ["GET https://example.com/api/items?a=1"])
    }

    @Test("Invalidated keys follow the route's key options")
    func keyOptions() {
        let options = KeyOptions(ignoredQueryParameters: ["utm_source"])
        #expect(
            targets(query: "utm_source=x&id=1", [("Location", "/b?utm_source=y")], options: options)
                == ["GET https://example.com/api/items?id=1", "GET https://example.com/b"])
    }
}
