import Foundation
import Testing

/// Static files over real sockets: validators, conditionals, ranges, negotiation, index, try_files,
/// and every way out of the root we know of.
@Suite struct StaticFileTests {
    static let files = [
        "index.html": "<h1>home</h1>",
        "a.txt": "0123456789abcdefghij",
        "docs/index.html": "docs",
        "app.js": "console.log('plain')",
        "app.js.br": "BROTLI",
        "app.js.gz": "GZIP",
        ".env": "SECRET=1",
        ".well-known/security.txt": "contact",
        "space name.txt": "spaced",
    ]

    /// A server with `files` for `body`, stopped (and awaited) however `body` ends.
    func withServer<T>(_ extra: String = "", sendfile: Bool = true, _ body: (TestServer) async throws -> T) async throws -> T {
        try await withTestServer(
            """
            listeners:
              - address: 127.0.0.1:0
                sendfile: \(sendfile)
            \(extra)
            """, files: Self.files, body)
    }

    @Test func servesWithValidatorsAndType() async throws {
        try await withServer { s in
            let r = try await s.get("/a.txt")
            #expect(r.status == 200)
            #expect(r.text == "0123456789abcdefghij")
            #expect(r.header("content-type") == "text/plain; charset=utf-8")
            #expect(r.header("etag")?.hasPrefix("\"") == true)
            #expect(r.header("last-modified")?.hasSuffix("GMT") == true)
            #expect(r.header("accept-ranges") == "bytes")
            let head = try await s.get("/a.txt", method: "HEAD")
            #expect(head.header("content-length") == "20" && head.body.isEmpty)
            #expect(try await s.get("/space%20name.txt").text == "spaced")
        }
    }

    @Test func conditionalRequests() async throws {
        try await withServer { s in
            let first = try await s.get("/a.txt")
            let etag = try #require(first.header("etag"))
            let modified = try #require(first.header("last-modified"))
            let inm = try await s.get("/a.txt", headers: ["If-None-Match": etag])
            #expect(inm.status == 304 && inm.body.isEmpty && inm.header("etag") == etag)
            #expect(try await s.get("/a.txt", headers: ["If-None-Match": "\"other\""]).status == 200)
            #expect(try await s.get("/a.txt", headers: ["If-Modified-Since": modified]).status == 304)
            #expect(try await s.get("/a.txt", headers: ["If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"]).status == 200)
            #expect(try await s.get("/a.txt", headers: ["If-Match": "\"nope\""]).status == 412)
            #expect(try await s.get("/a.txt", headers: ["If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"]).status == 412)
        }
    }

    @Test(arguments: [true, false])
    func ranges(sendfile: Bool) async throws {
        try await withServer(sendfile: sendfile) { s in
            let one = try await s.get("/a.txt", headers: ["Range": "bytes=2-5"])
            #expect(one.status == 206 && one.text == "2345" && one.header("content-range") == "bytes 2-5/20")
            let suffix = try await s.get("/a.txt", headers: ["Range": "bytes=-3"])
            #expect(suffix.text == "hij")
            let bad = try await s.get("/a.txt", headers: ["Range": "bytes=50-60"])
            #expect(bad.status == 416 && bad.header("content-range") == "bytes */20")
            let multi = try await s.get("/a.txt", headers: ["Range": "bytes=0-1,10-11"])
            #expect(multi.status == 206)
            let type = try #require(multi.header("content-type"))
            #expect(type.hasPrefix("multipart/byteranges; boundary="))
            let boundary = String(type.split(separator: "=").last!)
            #expect(multi.text.contains("--\(boundary)\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-range: bytes 0-1/20\r\n\r\n01\r\n"))
            #expect(multi.text.contains("content-range: bytes 10-11/20\r\n\r\nab\r\n--\(boundary)--"))
            let etag = try #require(one.header("etag"))
            #expect(try await s.get("/a.txt", headers: ["Range": "bytes=0-1", "If-Range": etag]).status == 206)
            let stale = try await s.get("/a.txt", headers: ["Range": "bytes=0-1", "If-Range": "\"old\""])
            #expect(stale.status == 200 && stale.body.count == 20)
        }
    }

    @Test(arguments: [true, false])
    func largeFilesWithAndWithoutSendfile(sendfile: Bool) async throws {
        try await withServer(sendfile: sendfile) { s in
            var bytes = [UInt8](repeating: 0, count: 3_000_000)
            for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 8) }
            try Data(bytes).write(to: s.directory.appendingPathComponent("big.bin"))
            let c = try await s.client()
            try await c.send("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: a\r\nRange: bytes=1000000-1000009,2999990-\r\n\r\n")
            let whole = try await c.readResponse(timeout: .seconds(30))
            #expect(whole.body == bytes)
            let parts = try await c.readResponse(timeout: .seconds(30))
            #expect(parts.status == 206)
            let text = parts.body
            #expect(text.count > 20)
            let firstPart = Array(bytes[1_000_000..<1_000_010])
            #expect(text.windows(ofCount: 10).contains(where: { Array($0) == firstPart }))
            await c.close()
        }
    }

    @Test func precompressedSiblingsByQValue() async throws {
        try await withServer { s in
            let br = try await s.get("/app.js", headers: ["Accept-Encoding": "gzip, br"])
            #expect(br.text == "BROTLI" && br.header("content-encoding") == "br" && br.header("vary") == "Accept-Encoding")
            #expect(br.header("content-type") == "text/javascript; charset=utf-8")
            let gz = try await s.get("/app.js", headers: ["Accept-Encoding": "br;q=0.1, gzip"])
            #expect(gz.text == "GZIP" && gz.header("content-encoding") == "gzip")
            let plain = try await s.get("/app.js")
            #expect(plain.text == "console.log('plain')" && plain.header("content-encoding") == nil && plain.header("vary") == "Accept-Encoding")
            #expect(br.header("etag") != plain.header("etag"))
            let none = try await s.get("/a.txt", headers: ["Accept-Encoding": "br"])
            #expect(none.header("vary") == nil)
        }
    }

    @Test func indexFilesAndDirectoryRedirect() async throws {
        try await withServer { s in
            #expect(try await s.get("/").text == "<h1>home</h1>")
            let redirect = try await s.get("/docs?x=1")
            #expect(redirect.status == 301 && redirect.header("location") == "/docs/?x=1")
            #expect(try await s.get("/docs/").text == "docs")
            #expect(try await s.get("/nope").status == 404)
            #expect(try await s.get("/a.txt", method: "POST").status == 405)
        }
    }

    @Test func tryFilesSPAFallback() async throws {
        try await withServer(
            """
            hosts:
              - default: true
                routes:
                  - match: {prefix: /}
                    static: {try_files: [$uri, $uri/, /index.html]}
            """) { s async throws in
            #expect(try await s.get("/a.txt").text == "0123456789abcdefghij")
            #expect(try await s.get("/app/route/42").text == "<h1>home</h1>")
            #expect(try await s.get("/docs/").text == "docs")
        }
    }

    @Test func tryFilesFinalStatus() async throws {
        try await withServer(
            """
            hosts:
              - default: true
                routes:
                  - match: {prefix: /}
                    static: {try_files: [$uri, =410]}
            """) { s async throws in
            #expect(try await s.get("/gone").status == 410)
        }
    }

    static let traversals = [
        "/../../../../etc/passwd", "/..%2f..%2f..%2fetc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/%252e%252e/%252e%252e/etc/passwd", "/..\\..\\etc\\passwd", "/%5c..%5c..%5cetc/passwd", "/a.txt%00.html",
        "/%c0%ae%c0%ae/etc/passwd", "/docs/../../etc/passwd", "/./../etc/passwd", "//etc/passwd", "/.env", "/.%65nv",
        "/docs/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    ]

    @Test(arguments: traversals)
    func traversalNeverLeavesTheRoot(_ path: String) async throws {
        try await withServer { s in
            let r = try await s.get(path)
            #expect([400, 403, 404].contains(r.status), "\(path) -> \(r.status)")
            #expect(!r.text.contains("root:"), "\(path) leaked /etc/passwd")
            #expect(!r.text.contains("SECRET"), "\(path) leaked a dotfile")
        }
    }

    @Test func dotfilesHiddenButWellKnownServed() async throws {
        try await withServer { s in
            #expect(try await s.get("/.env").status == 404)
            #expect(try await s.get("/.well-known/security.txt").text == "contact")
            try await withServer(
                """
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /}
                        static: {dotfiles: allow}
                """) { allowed async throws in
                #expect(try await allowed.get("/.env").text == "SECRET=1")
            }
        }
    }

    @Test func symlinksLeavingTheRootAreRefusedUnlessAllowed() async throws {
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-outside-\(UUID().uuidString).txt")
        try Data("OUTSIDE".utf8).write(to: outside)
        defer { try? FileManager.default.removeItem(at: outside) }
        try await withServer { s in
            try FileManager.default.createSymbolicLink(atPath: s.directory.appendingPathComponent("link.txt").path, withDestinationPath: outside.path)
            try FileManager.default.createSymbolicLink(atPath: s.directory.appendingPathComponent("inside.txt").path, withDestinationPath: s.directory.appendingPathComponent("a.txt").path)
            let refused = try await s.get("/link.txt")
            #expect(refused.status == 403 && !refused.text.contains("OUTSIDE"))
            #expect(try await s.get("/inside.txt").text == "0123456789abcdefghij")

            try await withTestServer(
                """
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /}
                        static: {follow_symlinks_outside_root: true}
                """,
                configure: { dir in
                    try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link.txt").path, withDestinationPath: outside.path)
                }
            ) { allowed async throws in
                #expect(try await allowed.get("/link.txt").text == "OUTSIDE")
            }
        }
    }

    @Test func changedFileIsSeenAfterTheMetadataCacheExpires() async throws {
        try await withServer(
            """
            hosts:
              - default: true
                routes:
                  - match: {prefix: /}
                    static: {metadata_cache_validity: 100ms}
            """) { s in
            #expect(try await s.get("/a.txt").text == "0123456789abcdefghij")
            try Data("changed".utf8).write(to: s.directory.appendingPathComponent("a.txt"))
            var seen = ""
            for _ in 0..<100 where seen != "changed" {
                seen = try await s.get("/a.txt").text
                if seen != "changed" { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(seen == "changed")
        }
    }
}

extension Array {
    func windows(ofCount n: Int) -> [ArraySlice<Element>] {
        guard count >= n else { return [] }
        return (0...(count - n)).map { self[$0..<($0 + n)] }
    }
}
