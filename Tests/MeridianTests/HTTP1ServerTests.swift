import Foundation
import Testing

/// HTTP/1.1 behaviour over real sockets: keep-alive, pipelining, framing, limits and timeouts.
@Suite struct HTTP1ServerTests {
    static let respondConfig = """
        hosts:
          - default: true
            routes:
              - match: {path: /hello}
                respond: {status: 200, body: "hello\\n"}
              - match: {prefix: /}
                static: {}
        """

    @Test func keepAliveServesManyRequestsOnOneConnection() async throws {
        try await withTestServer(Self.respondConfig) { server in
            let c = try await server.client()
            for _ in 0..<5 {
                try await c.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                let r = try await c.readResponse()
                #expect(r.status == 200)
                #expect(r.text == "hello\n")
                #expect(r.header("connection") == nil)
                #expect(r.header("date") != nil)
            }
            await c.close()
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withTestServer(Self.respondConfig, files: ["a.txt": "AAA", "b.txt": "BB"]) { server in
            let c = try await server.client()
            try await c.send(
                "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\nHEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            #expect(try await c.readResponse().text == "AAA")
            #expect(try await c.readResponse().text == "BB")
            #expect(try await c.readResponse().status == 404)
            let head = try await c.readResponse(head: true)
            #expect(head.status == 200 && head.header("content-length") == "3")
            #expect(try await c.readResponse().text == "hello\n")
            await c.close()
        }
    }

    @Test func manyPipelinedRequestsInOneWrite() async throws {
        try await withTestServer(Self.respondConfig) { server in
            let c = try await server.client()
            try await c.send(String(repeating: "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", count: 200))
            for _ in 0..<200 { #expect(try await c.readResponse().text == "hello\n") }
            await c.close()
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        try await withTestServer(Self.respondConfig) { server in
            let c = try await server.client()
            try await c.send("GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            let r = try await c.readResponse()
            #expect(r.header("connection") == "close")
            #expect(await c.waitForClose())
        }
    }

    @Test func http10ClosesUnlessKeepAliveAsked() async throws {
        try await withTestServer(Self.respondConfig) { server in
            let c = try await server.client()
            try await c.send("GET /hello HTTP/1.0\r\n\r\n")
            let r = try await c.readResponse()
            #expect(r.status == 200)
            #expect(await c.waitForClose())

            let k = try await server.client()
            try await k.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let r1 = try await k.readResponse()
            #expect(r1.header("connection") == "keep-alive")
            try await k.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await k.readResponse().status == 200)
            await k.close()
        }
    }

    @Test func headHasLengthButNoBody() async throws {
        try await withTestServer(Self.respondConfig) { server in
            let c = try await server.client()
            try await c.send("HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            let head = try await c.readResponse(head: true)
            #expect(head.header("content-length") == "6")
            // If HEAD had leaked a body, this would read "hello\n" as the start of the next response.
            let get = try await c.readResponse()
            #expect(get.status == 200 && get.text == "hello\n")
            await c.close()
        }
    }

    @Test func chunkedRequestBodyIsReadAndConnectionReused() async throws {
        try await withTestServer(Self.respondConfig) { server in
            let c = try await server.client()
            try await c.send("POST /hello HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
            #expect(try await c.readResponse().status == 200)
            try await c.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await c.readResponse().text == "hello\n")
            await c.close()
        }
    }

    @Test func expectContinueGets100BeforeTheBody() async throws {
        try await withTestServer(Self.respondConfig) { server in
            let c = try await server.client()
            try await c.send("POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            let interim = try await c.readResponse()
            #expect(interim.status == 100)
            try await c.send("abcde")
            #expect(try await c.readResponse().status == 200)
            await c.close()
        }
    }

    @Test func unknownExpectationGets417() async throws {
        try await withTestServer(Self.respondConfig) { server in
            let r = try await server.get("/hello", headers: ["Expect": "something-else"])
            #expect(r.status == 417)
        }
    }

    @Test func oversizedExpectContinueIsRefusedWithout100() async throws {
        try await withTestServer(Self.respondConfig + "\nlimits: {max_body_bytes: 1k}\n") { server in
            let c = try await server.client()
            try await c.send("POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
            let r = try await c.readResponse()
            #expect(r.status == 413)
            #expect(await c.waitForClose())
        }
    }

    @Test func requestIDIsKeptWhenWellFormedAndMadeOtherwise() async throws {
        try await withTestServer(Self.respondConfig) { server in
            let kept = try await server.get("/hello", headers: ["X-Request-ID": "abc-123"])
            #expect(kept.header("x-request-id") == "abc-123")
            let replaced = try await server.get("/hello", headers: ["X-Request-ID": "bad id with spaces"])
            let made = try #require(replaced.header("x-request-id"))
            #expect(made != "bad id with spaces" && !made.isEmpty)
            let other = try await server.get("/hello")
            #expect(other.header("x-request-id") != made)
        }
    }

    // MARK: Limits

    @Test func longRequestLineGets414() async throws {
        try await withTestServer(Self.respondConfig + "\nlimits: {max_request_line: 256}\n") { server in
            let c = try await server.client()
            try await c.send("GET /\(String(repeating: "a", count: 400)) HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await c.readResponse().status == 414)
            #expect(await c.waitForClose())
        }
    }

    @Test func tooManyHeaderBytesGets431() async throws {
        try await withTestServer(Self.respondConfig + "\nlimits: {max_header_bytes: 1k}\n") { server in
            let c = try await server.client()
            try await c.send("GET /hello HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "b", count: 2000))\r\n\r\n")
            #expect(try await c.readResponse().status == 431)
            #expect(await c.waitForClose())
        }
    }

    @Test func tooManyHeaderFieldsGets431() async throws {
        try await withTestServer(Self.respondConfig + "\nlimits: {max_header_count: 10}\n") { server in
            let c = try await server.client()
            var req = "GET /hello HTTP/1.1\r\nHost: a\r\n"
            for i in 0..<20 { req += "X-H\(i): v\r\n" }
            try await c.send(req + "\r\n")
            #expect(try await c.readResponse().status == 431)
            #expect(await c.waitForClose())
        }
    }

    /// `/hello` answers at once without reading the body; `/up/` (the upload action) answers only
    /// once it has read the body, so a body it cannot finish decides its answer.
    static func bodyConfig(_ extra: String) -> String {
        """
        \(extra)
        hosts:
          - default: true
            routes:
              - match: {path: /hello}
                respond: {status: 200, body: "hello\\n"}
              - match: {prefix: /up/}
                upload: {root: "{{root}}/store", strip_prefix: /up}
        """
    }

    static func makeStore(_ dir: URL) throws {
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("store"), withIntermediateDirectories: true)
    }

    /// What the upload root holds (temporary files included).
    static func stored(_ server: TestServer) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: server.directory.appendingPathComponent("store").path)
    }

    @Test func oversizedBodyGets413ByLengthAndByChunks() async throws {
        try await withTestServer(Self.bodyConfig("limits: {max_body_bytes: 16}"), configure: Self.makeStore) { server in
            // A declared length over the limit: 413 before any responder runs, then the close.
            let a = try await server.client()
            try await a.send("POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\n\r\n")
            #expect(try await a.readResponse().status == 413)
            #expect(await a.waitForClose())

            // Chunked, to a route that reads its body: the 17th byte is found while reading, before
            // any response began: exactly one answer, 413, then the close; nothing is stored.
            let b = try await server.client()
            try await b.send("PUT /up/big.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n1\r\nX\r\n0\r\n\r\n")
            let rb = try await b.readResponse()
            #expect(rb.status == 413)
            #expect(rb.header("connection") == "close")
            #expect(await b.waitForClose())
            #expect(b.pending.isEmpty, "bytes after the 413: \(String(decoding: b.pending, as: UTF8.self))")
            // The upload's temporary file is removed on the I/O pool, maybe after the answer.
            #expect(try await eventually { try Self.stored(server).isEmpty }, "left: \((try? Self.stored(server)) ?? [])")

            // The same body to a route that answered without reading it: that 200 had begun before
            // the body went over the limit, so it stands; no 413 follows, the connection closes.
            let c = try await server.client()
            try await c.send("POST /hello HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n1\r\nX\r\n0\r\n\r\n")
            let rc = try await c.readResponse()
            #expect(rc.status == 200 && rc.text == "hello\n")
            #expect(await c.waitForClose())
            #expect(c.pending.isEmpty, "bytes after the 200: \(String(decoding: c.pending, as: UTF8.self))")
        }
    }

    @Test func connectionsBeyondTheLimitAreRefused() async throws {
        try await withTestServer(Self.respondConfig + "\nlimits: {max_connections: 2}\n") { server in
            let a = try await server.client()
            let b = try await server.client()
            try await a.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            try await b.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            _ = try await a.readResponse()
            _ = try await b.readResponse()
            let c = try await server.client()
            #expect(await c.waitForClose())
            #expect(server.app.server.refusedConnections.load(ordering: .relaxed) >= 1)
            await a.close()
            _ = await a.waitForClose()
            // A slot is free again once a connection ends.
            var answered = false
            for _ in 0..<50 where !answered {
                let d = try await server.client()
                try? await d.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
                answered = (try? await d.readResponse(timeout: .seconds(1)))?.status == 200
                await d.close()
            }
            #expect(answered)
        }
    }

    // MARK: Timeouts

    @Test func slowlorisHeaderGets408() async throws {
        try await withTestServer(Self.respondConfig + "\ntimeouts: {header_read: 300ms}\n") { server in
            let c = try await server.client()
            try await c.send("GET /hello HTTP/1.1\r\nHost: a\r\nX-Slow: ")
            let started = ContinuousClock.now
            let r = try await c.readResponse(timeout: .seconds(5))
            #expect(r.status == 408)
            #expect(ContinuousClock.now - started < .seconds(3))
            #expect(await c.waitForClose())
        }
    }

    @Test func idleKeepAliveConnectionIsClosedSilently() async throws {
        // Long enough that a loaded test machine still sends the request in time.
        try await withTestServer(Self.respondConfig + "\ntimeouts: {idle: 2s}\n") { server in
            let c = try await server.client()
            try await c.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            _ = try await c.readResponse()
            #expect(await c.waitForClose(timeout: .seconds(8)))
            #expect(c.pending.isEmpty)
        }
    }

    @Test func stalledBodyGets408() async throws {
        try await withTestServer(Self.bodyConfig("timeouts: {body_read: 300ms}"), configure: Self.makeStore) { server in
            // A route that reads the body: 7 of 100 bytes, then nothing for body_read: 408, then
            // the close; the partial upload is not stored.
            let a = try await server.client()
            try await a.send("PUT /up/x.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npartial")
            let ra = try await a.readResponse(timeout: .seconds(5))
            #expect(ra.status == 408)
            #expect(ra.header("connection") == "close")
            #expect(await a.waitForClose(timeout: .seconds(5)))
            #expect(a.pending.isEmpty)
            #expect(try await eventually { try Self.stored(server).isEmpty }, "left: \((try? Self.stored(server)) ?? [])")

            // A route that answers at once without reading: its 200 goes out, and the connection
            // still closes once the body it never finishes has been stalled for body_read.
            let b = try await server.client()
            try await b.send("POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npartial")
            let rb = try await b.readResponse(timeout: .seconds(5))
            #expect(rb.status == 200 && rb.text == "hello\n")
            #expect(await b.waitForClose(timeout: .seconds(5)))
            #expect(b.pending.isEmpty, "bytes after the 200: \(String(decoding: b.pending, as: UTF8.self))")
            // Both connections were ended by body_read, not by anything else.
            var counted: String?
            _ = try await eventually {
                let metrics = try await server.admin("/metrics").text
                counted = metrics.split(separator: "\n").first { $0.hasPrefix("meridian_timeouts_total{kind=\"body_read\"} ") }?
                    .split(separator: " ").last.map(String.init)
                return counted == "2"
            }
            #expect(counted == "2")
        }
    }

    @Test func halfClosedClientStillGetsItsResponse() async throws {
        try await withTestServer(Self.respondConfig) { server in
            let c = try await server.client()
            try await c.send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
            try await c.shutdownOutput()
            #expect(try await c.readResponse().text == "hello\n")
            #expect(await c.waitForClose())
        }
    }
}
