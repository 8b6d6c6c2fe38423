import NIOCore
import NIOEmbedded
import MeridianCore
import NIOHTTP1
import Testing
@testable import MeridianProxy

/// The proxy's own HTTP/1.1 client codec: request parts to bytes, response bytes to parts, every
/// framing rule of RFC 9112 §6.3, and hostile responses refused with an `HTTPParserError` (which the
/// proxy answers with a 502 `invalid_response`).
struct UpstreamHTTP1CodecTests {
    func channel(filtering: Bool = false) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let codec = UpstreamHTTP1Codec()
        codec.filtersResponseFields = filtering
        try channel.pipeline.syncOperations.addHandler(codec)
        return channel
    }

    func send(_ channel: EmbeddedChannel, _ method: HTTPMethod = .GET, headers: HTTPHeaders = ["host": "a"]) throws {
        try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: "/x", headers: headers)))
        try channel.writeOutbound(HTTPClientRequestPart.end(nil))
        while try channel.readOutbound(as: IOData.self) != nil {}
    }

    /// Feeds `text` in pieces of `step` bytes and collects the parts.
    func feed(_ channel: EmbeddedChannel, _ text: String, step: Int = .max) throws -> [HTTPClientResponsePart] {
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let j = min(bytes.count, i + step)
            try channel.writeInbound(ByteBuffer(bytes: bytes[i..<j]))
            i = j
        }
        var parts: [HTTPClientResponsePart] = []
        while let p = try channel.readInbound(as: HTTPClientResponsePart.self) { parts.append(p) }
        return parts
    }

    /// Parts as text: `head 200 [name: value, …]`, `body …` (pieces joined), `end [trailers]`.
    func describe(_ parts: [HTTPClientResponsePart]) -> [String] {
        var out: [String] = []
        for part in parts {
            switch part {
            case .head(let h):
                out.append("head \(h.status.code) \(h.headers.map { "\($0.name): \($0.value)" })")
            case .body(let b):
                if let last = out.last, last.hasPrefix("body ") {
                    out[out.count - 1] = last + String(buffer: b)
                } else {
                    out.append("body " + String(buffer: b))
                }
            case .end(let t):
                out.append("end" + (t.map { " \($0.map { "\($0.name): \($0.value)" })" } ?? ""))
            }
        }
        return out
    }

    @Test(arguments: [Int.max, 1, 7])
    func contentLengthAndChunkedBodiesInAnyPieces(step: Int) throws {
        let c = try channel()
        try send(c)
        let a = try feed(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  spaced value \t\r\n\r\nhello", step: step)
        #expect(describe(a) == ["head 200 [\"Content-Length: 5\", \"X-A: spaced value\"]", "body hello", "end"])
        try send(c)
        let b = try feed(
            c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\ngrpc-status: 0\r\n\r\n",
            step: step)
        #expect(describe(b) == ["head 200 [\"Transfer-Encoding: gzip, chunked\"]", "body hello0123456789", "end [\"grpc-status: 0\"]"])
        // A bare LF ends a line too (as llhttp takes it); an empty reason is allowed.
        try send(c)
        let d = try feed(c, "HTTP/1.0 404\nContent-Length: 0\n\n", step: step)
        #expect(describe(d) == ["head 404 [\"Content-Length: 0\"]", "end"])
        _ = try c.finish()
    }

    @Test func bodilessResponsesAndInterimOnes() throws {
        let c = try channel()
        try send(c, .HEAD)
        // A HEAD's answer announces a length it does not send; the next response follows at once.
        #expect(describe(try feed(c, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")) == ["head 200 [\"Content-Length: 99\"]", "end"])
        try send(c)
        #expect(describe(try feed(c, "HTTP/1.1 204 No Content\r\n\r\n")) == ["head 204 []", "end"])
        try send(c)
        #expect(describe(try feed(c, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")) == ["head 304 [\"Content-Length: 10\"]", "end"])
        try send(c)
        // 100 Continue and 103 Early Hints are dropped.
        let parts = try feed(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        #expect(describe(parts) == ["head 201 [\"Content-Length: 2\"]", "body ok", "end"])
        _ = try c.finish()
    }

    @Test func equalContentLengthsAreOneLength() throws {
        #expect(try UpstreamHTTP1Codec.framing(["Content-Length": "5", "content-length": "5"], bodiless: false) == .length(5))
        #expect(try UpstreamHTTP1Codec.framing(["Content-Length": "5, 5"], bodiless: false) == .length(5))
        #expect(try UpstreamHTTP1Codec.framing(["Transfer-Encoding": "chunked"], bodiless: false) == .chunked)
        #expect(try UpstreamHTTP1Codec.framing(["Transfer-Encoding": "chunked, gzip"], bodiless: false) == .untilClose)
        #expect(try UpstreamHTTP1Codec.framing(["Content-Length": "5"], bodiless: true) == UpstreamHTTP1Codec.Framing.none)
        #expect(try UpstreamHTTP1Codec.framing([:], bodiless: false) == .untilClose)
        #expect(throws: HTTPParserError.self) { try UpstreamHTTP1Codec.framing(["Transfer-Encoding": "chunked", "Content-Length": "5, 5"], bodiless: true) }
    }

    @Test func aBodyToTheCloseEndsAtTheClose() throws {
        let c = try channel()
        try send(c)
        let parts = try feed(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        #expect(describe(parts) == ["head 200 [\"Connection: close\"]", "body all of it"])
        c.pipeline.fireChannelInactive()
        #expect(describe([try c.readInbound(as: HTTPClientResponsePart.self)!]) == ["end"])
    }

    @Test func aSwitchKeepsWhatFollowsForTheTunnel() throws {
        let c = try channel()
        try send(c, headers: ["host": "a", "connection": "upgrade", "upgrade": "websocket"])
        let parts = try feed(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\u{81}\u{02}hi")
        #expect(describe(parts) == ["head 101 [\"Upgrade: websocket\"]", "end"])
        try c.writeInbound(ByteBuffer(string: "more"))
        #expect(try c.readInbound(as: ByteBuffer.self) == nil, "held until the codec leaves")
        let codec = try c.pipeline.syncOperations.handler(type: UpstreamHTTP1Codec.self)
        try c.pipeline.removeHandler(codec).wait()
        #expect(try c.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "\u{81}\u{02}himore"))
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "both framings"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "two lengths"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n", "a list of lengths"),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "a negative length"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", "an overflowing length"),
        ("garbage, not HTTP at all", "not HTTP"),
        ("HTTP/2.0 200 OK\r\n\r\n", "another version"),
        ("HTTP/1.1 20x OK\r\n\r\n", "a bad status"),
        ("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n", "obs-fold"),
        ("HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n", "space before the colon"),
        ("HTTP/1.1 200 OK\r\nX\u{1}A: 1\r\n\r\n", "a control character in a name"),
        ("HTTP/1.1 200 OK\r\nX-A: a\u{0}b\r\n\r\n", "NUL in a value"),
        ("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", "a bare CR in a value"),
        ("HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", "a field without a colon"),
        ("HTTP/1.1 200 OK\r\n: v\r\n\r\n", "an empty name"),
        ("HTTP/1.1 200 OK\r\nX-A: a\u{7F}b\r\n\r\n", "DEL in a value"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "a chunk size that is not hex"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", "an overflowing chunk size"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", "a chunk longer than its size"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n", "a chunk size missing"),
    ])
    func hostileResponsesAreErrors(text: String, what: String) throws {
        for filtering in [false, true] {  // the proxy's connections read framing fields while they filter
            let c = try channel(filtering: filtering)
            try send(c)
            #expect(throws: HTTPParserError.self, "\(what)") { _ = try feed(c, text) }
            // Nothing more is taken from the connection.
            #expect(throws: Never.self) { _ = try feed(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") }
            #expect(try c.readInbound(as: HTTPClientResponsePart.self) == nil)
        }
    }

    /// The proxy's connections leave out of a final head what the client does not get, and read the framing and
    /// connection fields into the facts instead; interim heads and 101s keep every field.
    @Test func filteredHeadsKeepWhatTheClientGets() throws {
        let nginx = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 02 Dec 2026 12:00:00 GMT\r\n"
            + "Content-Type: application/octet-stream\r\nContent-Length: 5\r\nLast-Modified: Wed, 02 Dec 2026 11:00:00 GMT\r\n"
            + "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nETag: \"abc\"\r\nX-Request-Id: up\r\nAccept-Ranges: bytes\r\n\r\n"
        let (head, consumed, facts) = try #require(try UpstreamHTTP1Codec.parseHead(ByteBuffer(string: nginx + "hello"), filtering: true))
        #expect(consumed == nginx.utf8.count)
        // The kept fields as the lines the client's head gets, byte for byte; the head itself carries none.
        let kept = "Content-Type: application/octet-stream\r\nLast-Modified: Wed, 02 Dec 2026 11:00:00 GMT\r\nETag: \"abc\"\r\n"
            + "Accept-Ranges: bytes\r\n"
        #expect(facts.encodedFields.map { String(buffer: $0) } == kept)
        #expect(head.headers.isEmpty)
        let decoded = Response.decodeFields(try #require(facts.encodedFields))
        #expect(decoded.map { "\($0.name): \($0.value)" } == [
            "Content-Type: application/octet-stream", "Last-Modified: Wed, 02 Dec 2026 11:00:00 GMT", "ETag: \"abc\"", "Accept-Ranges: bytes",
        ])
        #expect(facts.filtered && facts.contentLength == 5 && facts.keepsAlive(.http1_1))
        // Values lose their surrounding whitespace; a bare-LF head is read the same; an empty value stays a field.
        let loose = "HTTP/1.1 200 OK\nContent-Length:  5 \nX-A:\t b \t\nX-Empty:\nConnection: Keep-Alive\n\n"
        let (_, looseConsumed, looseFacts) = try #require(try UpstreamHTTP1Codec.parseHead(ByteBuffer(string: loose), filtering: true))
        #expect(looseConsumed == loose.utf8.count && looseFacts.contentLength == 5 && looseFacts.keepsAlive(.http1_0))
        #expect(looseFacts.encodedFields.map { String(buffer: $0) } == "X-A: b\r\nX-Empty: \r\n")
        #expect(Response.decodeFields(looseFacts.encodedFields!).map { "\($0.name)=\($0.value)" } == ["X-A=b", "X-Empty="])
        // Content-Length read in place: unequal repeats, signs and overflow are invalid, equal repeats and lists fine.
        for (lengths, valid) in [(["5", "5"], true), (["5", "6"], false), (["+5"], false), (["99999999999999999999"], false), (["5, 5"], true), ([""], false)] {
            let text = "HTTP/1.1 200 OK\r\n" + lengths.map { "Content-Length: \($0)\r\n" }.joined() + "\r\n"
            let (_, _, f) = try #require(try UpstreamHTTP1Codec.parseHead(ByteBuffer(string: text), filtering: true))
            #expect((try? f.framing(bodiless: false)) == (valid ? .length(5) : nil), "\(lengths)")
        }
        #expect(try facts.framing(bodiless: false) == .length(5))
        // The same head unfiltered: every field, the same facts but not filtered (the exchange then filters).
        let (all, _, unfiltered) = try #require(try UpstreamHTTP1Codec.parseHead(ByteBuffer(string: nginx), filtering: false))
        #expect(all.headers.count == 10 && !unfiltered.filtered && unfiltered.contentLength == 5)
        #expect(all.headers.filter { !RequestRewriter.isDroppedResponseField($0.name) }.map(\.name) == decoded.map(\.name))

        // Connection naming a field: kept (the exchange removes the field it names), not filtered.
        let named = "HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nTransfer-Encoding: gzip, chunked\r\nUpgrade: h2c\r\n\r\n"
        let (h2, _, f2) = try #require(try UpstreamHTTP1Codec.parseHead(ByteBuffer(string: named), filtering: true))
        #expect(h2.headers.map(\.name) == ["Connection", "X-Hop"] && f2.encodedFields == nil)
        #expect(!f2.filtered && !f2.keepsAlive(.http1_1) && f2.contentLength == nil)
        #expect(try f2.framing(bodiless: false) == .chunked)
        // HTTP/1.0: keep-alive only when asked.
        let old = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
        #expect(try !UpstreamHTTP1Codec.parseHead(ByteBuffer(string: old), filtering: true)!.2.keepsAlive(.http1_0))
        let oldKept = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n"
        #expect(try UpstreamHTTP1Codec.parseHead(ByteBuffer(string: oldKept), filtering: true)!.2.keepsAlive(.http1_0))
        // Interim and switching heads are not filtered.
        for text in ["HTTP/1.1 103 Early Hints\r\nLink: </a>\r\nDate: x\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"] {
            let (h, _, f) = try #require(try UpstreamHTTP1Codec.parseHead(ByteBuffer(string: text), filtering: true))
            #expect(h.headers.count == 2 && !f.filtered, "\(text)")
        }
        // Through the channel: the parts the connection's handler gets.
        let c = try channel(filtering: true)
        try send(c)
        #expect(describe(try feed(c, nginx + "hello")) == [
            "head 200 [\"Content-Type: application/octet-stream\", \"Last-Modified: Wed, 02 Dec 2026 11:00:00 GMT\", \"ETag: \\\"abc\\\"\", \"Accept-Ranges: bytes\"]",
            "body hello", "end",
        ])
        _ = try c.finish()
    }

    @Test func anOversizedHeadIsAnError() throws {
        let c = try channel()
        try send(c)
        let big = "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Filler: \(String(repeating: "a", count: 1000))\r\n", count: 70)
        #expect(throws: HTTPParserError.self) { _ = try feed(c, big, step: 4096) }
        let fields = try channel()
        try send(fields)
        let many = "HTTP/1.1 200 OK\r\n" + String(repeating: "X-A: 1\r\n", count: 201) + "\r\n"
        #expect(throws: HTTPParserError.self) { _ = try feed(fields, many) }
        // Trailers are bounded as a head is: in total, not only line by line.
        let trailers = try channel()
        try send(trailers)
        let bigTrailers = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
            + String(repeating: "X-T: \(String(repeating: "t", count: 1000))\r\n", count: 70) + "\r\n"
        #expect(throws: HTTPParserError.self) { _ = try feed(trailers, bigTrailers, step: 4096) }
    }

    @Test func requestsGoOutAsBytesChunkedWhenTheHeadSaysSo() throws {
        let c = try channel()
        try c.writeOutbound(
            HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/up?a=1", headers: ["host": "h", "transfer-encoding": "chunked"])))
        try c.writeOutbound(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: "hello"))))
        try c.writeOutbound(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer())))  // an empty piece is not the last chunk
        try c.writeOutbound(HTTPClientRequestPart.end(["x-checksum": "1"]))
        var out = ""
        while let d = try c.readOutbound(as: IOData.self) { if case .byteBuffer(let b) = d { out += String(buffer: b) } }
        #expect(out == "POST /up?a=1 HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-checksum: 1\r\n\r\n")
        try c.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .PUT, uri: "/f", headers: ["content-length": "2"])))
        try c.writeOutbound(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: "ok"))))
        let ended = c.eventLoop.makePromise(of: Void.self)
        c.writeAndFlush(HTTPClientRequestPart.end(nil), promise: ended)
        try ended.futureResult.wait()
        out = ""
        while let d = try c.readOutbound(as: IOData.self) { if case .byteBuffer(let b) = d { out += String(buffer: b) } }
        #expect(out == "PUT /f HTTP/1.1\r\ncontent-length: 2\r\n\r\nok")
    }
}
