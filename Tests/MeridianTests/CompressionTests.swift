import Foundation
import Glibc
import Testing

/// On-the-fly gzip and brotli over real sockets, every body checked with Python's zlib and the PyPI brotli
/// decoder (`Tests/tools/decompress.py`), which share no code with Meridian's encoders.
@Suite struct CompressionTests {
    static let js = String(repeating: "function add(a, b) { return a + b; } // meridian compresses this\n", count: 1600)  // ~100 KiB
    static let text = String(repeating: "hello, compressed world\n", count: 60)  // ~1.4 KiB

    static func yaml(_ extra: String = "") -> String {
        """
        compression: {enabled: true\(extra)}
        hosts:
          - default: true
            routes:
              - match: {path: /text}
                respond: {status: 200, headers: {Content-Type: text/plain}, body: "\(text.replacingOccurrences(of: "\n", with: "\\n"))"}
              - match: {path: /tiny}
                respond: {status: 200, headers: {Content-Type: text/plain}, body: "hi"}
              - match: {path: /png}
                respond: {status: 200, headers: {Content-Type: image/png}, body: "\(text.replacingOccurrences(of: "\n", with: "\\n"))"}
              - match: {path: /raw}
                compression: off
                respond: {status: 200, headers: {Content-Type: text/plain}, body: "\(text.replacingOccurrences(of: "\n", with: "\\n"))"}
              - match: {prefix: /}
                static: {root: "{{root}}"}
        """
    }

    /// A server with compression on that proxies everything to 127.0.0.1:`port`.
    static func compressingProxy(to port: Int) -> String {
        """
        compression: {enabled: true}
        upstreams: [{name: api, endpoints: ["127.0.0.1:\(port)"]}]
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                proxy: api
        """
    }

    /// `body` decoded by Python.
    static func decoded(_ body: [UInt8], _ coding: String) async throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-compressed-\(UUID().uuidString)")
        try Data(body).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let tool = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("tools/decompress.py")
        let (code, out) = try await Subprocess.run("python3", [tool.path, coding, file.path])
        guard code == 0 else { throw TestError("decompress.py \(coding): \(out)") }
        return out
    }

    @Test(arguments: ["gzip", "br"])
    func aRespondBodyIsCompressedAndDecodesToTheSameBytes(coding: String) async throws {
        try await withTestServer(Self.yaml()) { s in
            let r = try await s.get("/text", headers: ["Accept-Encoding": "gzip, deflate, br"])
            #expect(r.status == 200)
            #expect(r.header("content-encoding") == "br")
            #expect(r.header("vary") == "Accept-Encoding")
            let only = try await s.get("/text", headers: ["Accept-Encoding": coding])
            #expect(only.header("content-encoding") == coding)
            #expect(only.body.count < Self.text.utf8.count / 4)
            #expect(try await Self.decoded(only.body, coding) == Self.text)
        }
    }

    @Test func negotiationFollowsTheQValues() async throws {
        try await withTestServer(Self.yaml()) { s in
            func coding(_ accept: String?) async throws -> String? {
                try await s.get("/text", headers: accept.map { ["Accept-Encoding": $0] } ?? [:]).header("content-encoding")
            }
            #expect(try await coding(nil) == nil)
            #expect(try await coding("gzip;q=0.5, br;q=0.4") == "gzip")
            #expect(try await coding("br;q=0, gzip") == "gzip")
            #expect(try await coding("*") == "br")
            #expect(try await coding("*;q=0.1, br;q=0") == "gzip")
            #expect(try await coding("identity") == nil)
            #expect(try await coding("compress, deflate") == nil)
            #expect(try await coding("GZIP") == "gzip")
            // Nothing acceptable, not even identity: the identity representation anyway, never a 406.
            let none = try await s.get("/text", headers: ["Accept-Encoding": "identity;q=0, *;q=0"])
            #expect(none.status == 200 && none.header("content-encoding") == nil && none.text == Self.text)
        }
    }

    @Test func whatIsNeverCompressed() async throws {
        try await withTestServer(Self.yaml(), files: ["app.js": Self.js]) { s in
            let gz = ["Accept-Encoding": "gzip"]
            #expect(try await s.get("/tiny", headers: gz).header("content-encoding") == nil)  // under min_length
            #expect(try await s.get("/png", headers: gz).header("content-encoding") == nil)  // an image type
            #expect(try await s.get("/raw", headers: gz).header("content-encoding") == nil)  // compression: off
            // A Range request gets the identity representation's bytes.
            let range = try await s.get("/app.js", headers: ["Accept-Encoding": "gzip", "Range": "bytes=0-9"])
            #expect(range.status == 206 && range.header("content-encoding") == nil && range.text == String(Self.js.prefix(10)))
            // A 304 is a 304, and says Vary.
            let full = try await s.get("/app.js", headers: gz)
            let etag = try #require(full.header("etag"))
            #expect(etag.hasPrefix("W/"))
            let notModified = try await s.get("/app.js", headers: ["Accept-Encoding": "gzip", "If-None-Match": etag])
            #expect(notModified.status == 304 && notModified.body.isEmpty)
        }
    }

    @Test(arguments: ["gzip", "br"])
    func aStaticFileIsCompressedOnceAndThenServedFromTheVariantCache(coding: String) async throws {
        try await withTestServer(Self.yaml(), files: ["app.js": Self.js]) { s in
            let first = try await s.get("/app.js", headers: ["Accept-Encoding": coding])
            #expect(first.status == 200 && first.header("content-encoding") == coding)
            #expect(first.header("content-length") == nil)  // streamed as it is compressed
            #expect(try await Self.decoded(first.body, coding) == Self.js)
            let second = try await s.get("/app.js", headers: ["Accept-Encoding": coding])
            #expect(second.body == first.body)
            #expect(second.header("content-length") == String(first.body.count))  // from the cache, whole
            let metrics = try await RawClient.exchange(port: s.adminPort!, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").text
            #expect(metrics.contains("meridian_compression_cache_hits_total{encoding=\"\(coding)\"} 1"))
            #expect(metrics.contains("meridian_compression_bytes_total{encoding=\"\(coding)\",direction=\"in\"} \(Self.js.utf8.count)"))
            // HEAD: the compressed variant's headers, no body.
            let head = try await s.get("/app.js", headers: ["Accept-Encoding": coding], method: "HEAD")
            #expect(head.header("content-encoding") == coding && head.body.isEmpty)
        }
    }

    /// Files either side of the 128 KiB whole-body limit: at it, gzipped in one call by libdeflate; one byte more, by
    /// zlib 16 KiB at a time. Both decode (Python's zlib), kept variants included, and come out about as small.
    @Test func filesEitherSideOfTheWholeBodyLimitDecode() async throws {
        let text = (0..<4_000).map { "function f\($0)(a, b) { return a * \($0) + b; }\n" }.joined()
        let atLimit = String(text.utf8.prefix(128 * 1024))!
        let overLimit = String(text.utf8.prefix(128 * 1024 + 1))!
        try await withTestServer(Self.yaml(), files: ["at.js": atLimit, "over.js": overLimit]) { s in
            var sizes: [String: Int] = [:]
            for (path, expected) in [("/at.js", atLimit), ("/over.js", overLimit)] {
                for round in ["compressed", "from the variant cache"] {
                    let r = try await s.get(path, headers: ["Accept-Encoding": "gzip"])
                    #expect(r.status == 200 && r.header("content-encoding") == "gzip", "\(path) \(round)")
                    #expect(try await Self.decoded(r.body, "gzip") == expected, "\(path) \(round)")
                    sizes[path] = r.body.count
                }
            }
            let at = try #require(sizes["/at.js"]), over = try #require(sizes["/over.js"])
            #expect(at < atLimit.utf8.count / 4 && over < overLimit.utf8.count / 4)
            #expect(Double(at) < Double(over) * 1.05, "libdeflate \(at) bytes, zlib \(over)")
        }
    }

    /// A file whose pages are not in the page cache is read on the thread pool (the loop's `RWF_NOWAIT` read gets
    /// nothing, or only a cached prefix), in several reads (1 MiB each), and decodes to the same bytes.
    @Test(arguments: ["gzip", "br"])
    func aFileNotInThePageCacheIsReadOffTheLoopAndDecodesToTheSameBytes(coding: String) async throws {
        let dir = try FileReaderTests.diskDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = (0..<40_000).map { "function f\($0)(a, b) { return a * \($0) + b; }\n" }.joined()  // ~1.8 MiB
        try FileReaderTests.writeUncached(Array(text.utf8), to: dir.appendingPathComponent("cold.js"))
        try FileReaderTests.writeUncached(Array(text.utf8), to: dir.appendingPathComponent("half.js"))
        // half.js: its first 600 KiB back in the page cache (and whatever readahead adds), the rest not.
        let fd = open(dir.appendingPathComponent("half.js").path, O_RDONLY)
        var prefix = [UInt8](repeating: 0, count: 600 * 1024)
        _ = prefix.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        close(fd)
        let yaml = Self.yaml().replacingOccurrences(of: "{{root}}", with: dir.path).replacingOccurrences(
            of: "      - match: {prefix: /}", with: "      - match: {prefix: /}\n        compression: {cache: false}")
        try await withTestServer(yaml) { s in
            for path in ["/cold.js", "/half.js"] {
                let r = try await s.get(path, headers: ["Accept-Encoding": coding])
                #expect(r.status == 200 && r.header("content-encoding") == coding, "\(path)")
                #expect(try await Self.decoded(r.body, coding) == text, "\(path)")
            }
        }
    }

    /// Timing: runs after the suite, alone (`MERIDIAN_LARGE_TESTS=1`, as scripts/test.sh does).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
    func serverSentEventsThroughGzipArriveOneByOne() async throws {
        try await withUpstreams(1) { ups in
            let yaml = """
                compression: {enabled: true, encodings: [gzip]}
                upstreams: [{name: api, endpoints: [\(ups[0].address)]}]
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /}
                        proxy: api
                """
            try await withTestServer(yaml) { s in
                let c = try await s.client()
                defer { Task { await c.close() } }
                try await c.send("GET /sse/4/300 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
                // The gzip stream decoded from the chunks that have arrived: each event must decode before the
                // next is sent (300 ms apart), so the counts 1, 2, 3, 4 are each seen on their own.
                var counts: [Int] = []
                let deadline = ContinuousClock.now + .seconds(5)
                while counts.last != 4, ContinuousClock.now < deadline {
                    let bytes = await c.readUntil(timeout: .milliseconds(100)) { Self.events(in: $0) > (counts.last ?? 0) }
                    let n = Self.events(in: bytes)
                    if n > (counts.last ?? 0) { counts.append(n) }
                }
                let bytes = c.pending
                let head = String(decoding: bytes.prefix(600), as: UTF8.self).lowercased()
                #expect(head.contains("content-encoding: gzip"))
                #expect(counts == [1, 2, 3, 4], "events decoded together: \(counts)")
            }
        }
    }

    @Test func theAccessLogNamesTheEncodingAndNoTransformIsHonoured() async throws {
        let body = Self.text.replacingOccurrences(of: "\n", with: "\\n")
        let yaml = Self.yaml()
            + "\n      - match: {path: /kept}\n        headers: {Cache-Control: no-transform}\n"
            + "        respond: {status: 200, headers: {Content-Type: text/plain}, body: \"\(body)\"}\n"
            + "telemetry: {access_log: {path: \"{{root}}/access.log\"}}\n"
        try await withTestServer(yaml) { s in
            #expect(try await s.get("/text", headers: ["Accept-Encoding": "br"]).header("content-encoding") == "br")
            #expect(try await s.get("/kept", headers: ["Accept-Encoding": "br"]).header("content-encoding") == nil)
            let lines = try await TelemetryTests.waitForLines(s.directory.appendingPathComponent("access.log"), count: 2)
            #expect(lines[0]["encoding"] as? String == "br", "\(lines[0])")
            #expect(lines[1]["encoding"] == nil)
        }
    }

    /// Proxied identity bodies: 50 KiB with a Content-Length is gathered into one buffer (past the inline limit,
    /// so gzipped whole by libdeflate at its turn, brotli a piece at a time); 200 KiB streams through zlib.
    @Test(arguments: ["gzip", "br"])
    func proxiedBodiesOfEverySizeDecode(coding: String) async throws {
        let text = (0..<6_000).map { "function f\($0)(a, b) { return a * \($0) + b; }\n" }.joined()
        let mid = String(text.utf8.prefix(50_000))!, big = String(text.utf8.prefix(200_000))!
        let origin = """
            hosts:
              - default: true
                routes:
                  - match: {prefix: /}
                    static: {root: "{{root}}"}
            """
        try await withTestServer(origin, files: ["mid.js": mid, "big.js": big]) { upstream in
            try await withTestServer(Self.compressingProxy(to: upstream.port)) { proxy in
                for (path, expected) in [("/mid.js", mid), ("/big.js", big)] {
                    let r = try await proxy.get(path, headers: ["Accept-Encoding": coding])
                    #expect(r.status == 200 && r.header("content-encoding") == coding, "\(path)")
                    #expect(r.body.count < expected.utf8.count / 3, "\(path): \(r.body.count) bytes")
                    #expect(try await Self.decoded(r.body, coding) == expected, "\(path)")
                }
            }
        }
    }

    @Test func aProxiedResponseAlreadyCompressedUpstreamIsNotCompressedAgain() async throws {
        try await withTestServer(Self.yaml()) { upstream in
            try await withTestServer(Self.compressingProxy(to: upstream.port)) { proxy in
                let r = try await proxy.get("/text", headers: ["Accept-Encoding": "gzip"])
                #expect(r.header("content-encoding") == "gzip")
                #expect(try await Self.decoded(r.body, "gzip") == Self.text)  // one layer
                // An upstream that sent identity is compressed here.
                let raw = try await proxy.get("/raw", headers: ["Accept-Encoding": "br"])
                #expect(raw.header("content-encoding") == "br")
                #expect(try await Self.decoded(raw.body, "br") == Self.text)
            }
        }
    }

    @Test(arguments: ["gzip", "br"])
    func http2ClientsGetTheSameBytes(coding: String) async throws {
        let yaml = "listeners: [{name: http, address: \"127.0.0.1:0\", http2: {h2c: true}}]\n" + Self.yaml()
        try await withTestServer(yaml, files: ["app.js": Self.js]) { s in
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-h2-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: out) }
            for path in ["/app.js", "/text"] {
                let (code, info) = try await Subprocess.run(
                    "curl", ["-s", "--http2-prior-knowledge", "-H", "Accept-Encoding: \(coding)", "-o", out.path, "-w", "%{http_version} %{http_code}",
                             "-D", "-", "http://127.0.0.1:\(s.port)\(path)"])
                #expect(code == 0 && info.contains("2 200"), "\(info)")
                #expect(info.lowercased().contains("content-encoding: \(coding)"))
                let body = try [UInt8](Data(contentsOf: out))
                #expect(try await Self.decoded(body, coding) == (path == "/text" ? Self.text : Self.js))
            }
        }
    }

    /// Server-sent events in a chunked gzip response received so far (complete chunks only, decoded as far as
    /// they go).
    static func events(in bytes: [UInt8]) -> Int {
        guard let headEnd = (0..<max(0, bytes.count - 3)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 })
        else { return 0 }
        var i = headEnd + 4
        var body: [UInt8] = []
        while let lineEnd = (i..<max(i, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }),
            let size = Int(String(decoding: bytes[i..<lineEnd], as: UTF8.self), radix: 16), size > 0, lineEnd + 2 + size <= bytes.count
        {
            body += bytes[(lineEnd + 2)..<(lineEnd + 2 + size)]
            i = lineEnd + 4 + size
        }
        guard let decoded = try? Decompressors.gunzip(body).bytes else { return 0 }
        return String(decoding: decoded, as: UTF8.self).components(separatedBy: "data:").count - 1
    }
}
