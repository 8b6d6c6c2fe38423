import Testing

/// Request smuggling and malformed input over real sockets: each gets 400 (or the status named)
/// and the connection is closed, so nothing after the bad message is ever read as a request.
@Suite struct SmugglingTests {
    static let config = """
        hosts:
          - default: true
            routes:
              - match: {path: /smuggled}
                respond: {status: 200, body: SMUGGLED}
              - match: {prefix: /}
                respond: {status: 200, body: ok}
        """

    static let vectors: [(String, String, Int)] = [
        ("CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", 400),
        ("duplicate CL same", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
        ("duplicate CL differ", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", 400),
        ("CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
        ("CL not numeric", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3a\r\n\r\nabc", 400),
        ("CL negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        ("CL plus sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n", 400),
        ("bare LF in head", "GET / HTTP/1.1\nHost: a\n\n", 400),
        ("bare LF after header", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400),
        ("bare CR", "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400),
        ("invalid header name byte", "GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n", 400),
        ("NUL in header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", 400),
        ("NUL in target", "GET /a\u{0}b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("TE not chunked last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400),
        ("TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("TE unknown coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        ("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("TE with vertical tab", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \u{0B}chunked\r\n\r\n0\r\n\r\n", 400),
        ("missing Host", "GET / HTTP/1.1\r\n\r\n", 400),
        ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        ("bad version", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400),
        ("HTTP/2 version on h1", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("no target", "GET HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400),
        ("invalid method byte", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("asterisk not OPTIONS", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("header without colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400),
        ("binary garbage", "\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\u{00}\u{01}\u{fc}\u{03}\u{03}\r\n\r\n", 400),
    ]

    @Test(arguments: vectors.indices)
    func vectorIsRejectedAndConnectionClosed(_ index: Int) async throws {
        let (name, request, status) = Self.vectors[index]
        try await withTestServer(Self.config) { server in
            let c = try await server.client()
            // A valid request follows: it must never be answered.
            try await c.send(request + "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
            let r = try await c.readResponse()
            #expect(r.status == status, "\(name)")
            #expect(r.header("connection") == "close", "\(name)")
            #expect(await c.waitForClose(), "\(name)")
            #expect(c.pending.isEmpty, "\(name): bytes after the error response")
        }
    }

    /// Errors found in a chunked body after the head was answered: the response already sent stands
    /// (a second answer to one request would desynchronise the client), the connection closes, and
    /// nothing after the broken body is read as a request.
    static let bodyVectors: [(String, String)] = [
        ("bad chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        ("chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"),
        ("chunk missing CRLF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"),
        ("chunk bare LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n"),
        ("chunk extension with NUL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\u{0}\r\nabc\r\n0\r\n\r\n"),
        ("trailer obs-fold", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n"),
    ]

    @Test(arguments: bodyVectors.indices)
    func brokenBodyClosesWithoutReadingFurther(_ index: Int) async throws {
        let (name, request) = Self.bodyVectors[index]
        try await withTestServer(Self.config) { server in
            let c = try await server.client()
            try await c.send(request + "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
            var responses: [TestResponse] = []
            while let r = try? await c.readResponse(timeout: .seconds(5)) { responses.append(r) }
            #expect(responses.count == 1, "\(name)")
            #expect(!responses.contains(where: { $0.text == "SMUGGLED" }), "\(name)")
            #expect(await c.waitForClose(), "\(name)")
        }
    }

    @Test func validRequestBeforeABadOneIsAnsweredFirst() async throws {
        try await withTestServer(Self.config) { server in
            let c = try await server.client()
            try await c.send("GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
            #expect(try await c.readResponse().status == 200)
            #expect(try await c.readResponse().status == 400)
            #expect(await c.waitForClose())
        }
    }

    @Test func absoluteFormTargetUsesItsAuthority() async throws {
        try await withTestServer(
            """
            hosts:
              - names: [other.test]
                routes:
                  - match: {prefix: /}
                    respond: {status: 200, body: other}
              - default: true
                routes:
                  - match: {prefix: /}
                    respond: {status: 200, body: default}
            """) { server in
            let c = try await server.client()
            try await c.send("GET http://other.test/x HTTP/1.1\r\nHost: ignored.test\r\n\r\n")
            #expect(try await c.readResponse().text == "other")
            await c.close()
        }
    }

    @Test func leadingEmptyLinesAreIgnored() async throws {
        try await withTestServer(Self.config) { server in
            let c = try await server.client()
            try await c.send("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await c.readResponse().status == 200)
            await c.close()
        }
    }

    @Test func requestSentOneByteAtATimeIsServed() async throws {
        try await withTestServer(Self.config) { server in
            let c = try await server.client()
            try await c.sendSlowly("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
            #expect(try await c.readResponse().text == "ok")
            await c.close()
        }
    }
}
