import MeridianConfig
@testable import MeridianCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import MeridianProxy

/// The byte-level helpers of the proxy's header rewriting.
struct RequestRewriterFieldTests {
    /// The one-capacity-check writers the heads are built with: the same bytes as a write per piece, empty
    /// pieces, multi-byte UTF-8, escapes, and a buffer that has to grow.
    @Test func fieldLineAndQuotedWriters() {
        var out = ByteBuffer()
        out.writeFieldLine("x-a", "1")
        out.writeFieldLine("", "")
        out.writeFieldLine("x-é", "naïve ☃")
        out.writeQuoted("example.com:8080")
        out.writeQuoted("a\"b\\c")
        out.writeQuoted("")
        #expect(String(buffer: out) == "x-a: 1\r\n: \r\nx-é: naïve ☃\r\n\"example.com:8080\"\"a\\\"b\\\\c\"\"\"")
        var small = ByteBufferAllocator().buffer(capacity: 4)
        let long = String(repeating: "v", count: 5000)
        small.writeFieldLine("n", long)
        small.writeQuoted(long)
        #expect(small.readableBytes == 1 + 2 + 5000 + 2 + 5002)
        #expect(String(buffer: small) == "n: \(long)\r\n\"\(long)\"")
        var bytes = long
        bytes.withUTF8 { raw in
            var viaRaw = ByteBuffer()
            viaRaw.writeFieldLine(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: raw[..<2])), UnsafeRawBufferPointer(raw))
            #expect(String(buffer: viaRaw) == "vv: \(long)\r\n")
        }
    }

    @Test func responseFieldsLeftBehindInAnyCase() {
        for name in [
            "TE", "Date", "SERVER", "Upgrade", "trailer", "Connection", "Keep-Alive", "X-Request-Id", "Content-Length",
            "Proxy-Connection", "Transfer-Encoding", "Proxy-Authenticate", "PROXY-AUTHORIZATION",
        ] {
            #expect(RequestRewriter.isDroppedResponseField(name), "\(name)")
        }
        for name in ["Content-Type", "ETag", "Dates", "Serve", "x-request-ids", "Last-Modified", "", "Content-Lengtg"] {
            #expect(!RequestRewriter.isDroppedResponseField(name), "\(name)")
        }
    }

    @Test func forwardedValuesAreTokensOrQuotedStrings() {
        #expect(RequestRewriter.quotedIfNeeded("example.com") == "example.com")
        #expect(RequestRewriter.quotedIfNeeded("example.com:8080") == "\"example.com:8080\"")
        #expect(RequestRewriter.quotedIfNeeded("a\"b\\c") == "\"a\\\"b\\\\c\"")
    }

    @Test func requestFieldKindsInAnyCase() {
        let kinds: [(String, RequestRewriter.FieldKind)] = [
            ("TE", .drop), ("Via", .via), ("HOST", .host), ("Expect", .drop), ("Upgrade", .drop), ("trailer", .drop),
            ("Forwarded", .forwarded), ("Connection", .connection), ("TraceState", .traceState), ("Keep-Alive", .drop),
            ("Traceparent", .drop), ("Content-Length", .drop), ("X-Forwarded-For", .forwardedFor),
            ("x-forwarded-host", .forwardedHost), ("Proxy-Connection", .drop), ("X-Forwarded-Proto", .forwardedProto),
            ("Transfer-Encoding", .drop), ("Proxy-Authenticate", .drop), ("proxy-authorization", .drop), (":authority", .drop),
            ("Accept", .keep), ("Hosts", .keep), ("vias", .keep), ("X-Forwarded-Fox", .keep), ("", .keep), ("Content-Lengtg", .keep),
        ]
        for (name, kind) in kinds { #expect(RequestRewriter.kind(ofRequestField: name) == kind, "\(name)") }
    }

    /// The head written as bytes (the usual request) is the head built as `HTTPHeaders` (header rules, upgrades,
    /// HTTP/2 upstreams), serialized: one set of rules, two ways of writing it.
    /// The proxy's usual request (a browser's `Connection: keep-alive` included) writes its upstream head from the
    /// field bytes and leaves the request's `HTTPHeaders` undecoded; fields `Connection` names still stay behind,
    /// and bytes that are not UTF-8 go on as received.
    @Test func theUpstreamHeadLeavesTheFieldsUndecoded() throws {
        let rewriter = try RequestRewriter(Configuration.ProxyAction(upstream: "u"), trustedProxies: [], viaName: "meridian")
        let connection = ConnectionInfo(remoteAddress: try SocketAddress(ipAddress: "192.0.2.1", port: 4000), localAddress: nil)
        for (fields, kept, dropped) in [
            ([("Host", "a.example"), ("Connection", "keep-alive"), ("Accept", "*/*")], "Accept: */*", "connection"),
            ([("Host", "a.example"), ("Connection", "keep-alive, X-Secret"), ("x-secret", "1"), ("X-Kept", "2")], "X-Kept: 2", "x-secret"),
        ] {
            let request = Request(
                head: RequestHead(method: .GET, uri: "/", version: .http1_1, fields: RequestFieldsTests.lines(fields)), id: "r",
                connection: connection
            )
            let head = try #require(
                rewriter.encodedUpstreamHead(for: request, target: "/", endpoint: "e:1", traceparent: nil, allocator: ByteBufferAllocator())
            )
            let text = String(buffer: head.bytes)
            #expect(text.contains("\r\n\(kept)\r\n"), "\(text)")
            #expect(!text.lowercased().contains("\r\n\(dropped):"), "\(text)")
            #expect(!request.headersDecoded, "\(fields)")
        }
        var raw = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\nX-N: caf")
        raw.writeBytes([0xE9])
        raw.writeString("\r\n\r\n")
        var parser = HTTP1RequestParser(limits: HTTP1RequestDecoder.Limits())
        guard case .head(let parsed)? = try parser.next(&raw) else {
            Issue.record("no head")
            return
        }
        let request = Request(head: parsed, id: "r", connection: connection)
        let head = try #require(
            rewriter.encodedUpstreamHead(for: request, target: "/", endpoint: "e:1", traceparent: nil, allocator: ByteBufferAllocator())
        )
        let sent = Array(head.bytes.readableBytesView)
        let expected = Array("X-N: caf".utf8) + [0xE9] + Array("\r\n".utf8)
        #expect(sent.indices.contains { i in sent[i...].starts(with: expected) })
    }

    @Test func encodedHeadEqualsTheBuiltHead() throws {
        let loop = EmbeddedEventLoop()
        let trusted = try #require(IPNetwork(parsing: "10.0.0.0/8"))
        let streaming = { RequestBody(eventLoop: loop, maxBytes: 1 << 20, source: nil) }
        let cases: [(method: HTTPMethod, uri: String, fields: [(String, String)], peer: String, body: RequestBody, version: String)] = [
            (.GET, "/a?b=c", [("Host", "example.com"), ("Accept", "*/*"), ("User-Agent", "curl/8")], "192.0.2.1", .none, "1.1"),
            (
                .GET, "/", [
                    ("host", "example.com:8080"), ("Connection", "keep-alive, X-Secret"), ("x-secret", "1"), ("Keep-Alive", "5"),
                    ("TE", "trailers"), ("X-Forwarded-For", "203.0.113.9"), ("Forwarded", "for=203.0.113.9"), ("Via", "1.0 edge"),
                    ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), ("tracestate", "a=b"),
                    ("Content-Length", "0"), ("Cookie", "a=1"), ("cookie", "b=2"),
                ], "192.0.2.1", .none, "1.1"
            ),
            (
                .POST, "/up", [
                    ("Host", "example.com"), ("X-Forwarded-For", "203.0.113.9, 198.51.100.2"), ("x-forwarded-proto", "https"),
                    ("X-Forwarded-Host", "public.example"), ("Forwarded", "for=203.0.113.9;proto=https"), ("via", "1.1 lb"),
                    ("Content-Length", "5"), ("Expect", "100-continue"),
                ], "10.1.2.3", .none, "1.1"
            ),
            (.POST, "/empty", [("Host", "a.example")], "2001:db8::1", .none, "2"),
            (.PUT, "/stream", [("Host", "a.example"), ("Transfer-Encoding", "chunked")], "192.0.2.1", streaming(), "1.1"),
            (.HEAD, "/h", [("Host", "a\"b.example")], "192.0.2.1", .none, "1.0"),
        ]
        for host in [Configuration.ProxyAction.HostHeader.pass, .upstream, .fixed("fixed.example")] {
            let rewriter = try RequestRewriter(
                Configuration.ProxyAction(upstream: "u", host: host), trustedProxies: [trusted], viaName: "meridian"
            )
            for c in cases {
                var headers = HTTPHeaders()
                for (n, v) in c.fields { headers.add(name: n, value: v) }
                var connection = ConnectionInfo(
                    remoteAddress: try SocketAddress(ipAddress: c.peer, port: 4000), localAddress: nil, protocolVersion: c.version
                )
                connection.scheme = "http"
                let request = Request(
                    head: HTTPRequestHead(version: .http1_1, method: c.method, uri: c.uri, headers: headers), id: "r",
                    connection: connection, body: c.body
                )
                // The same request with its fields as the HTTP/1.1 parser keeps them (bytes): the same heads.
                let asLines = Request(
                    head: RequestHead(method: c.method, uri: c.uri, version: .http1_1, fields: RequestFieldsTests.lines(c.fields)), id: "r",
                    connection: connection, body: c.body
                )
                let traceparent = "00-11111111111111111111111111111111-2222222222222222-01"
                let fromLines = try #require(
                    rewriter.encodedUpstreamHead(
                        for: asLines, target: c.uri, endpoint: "127.0.0.1:9000", traceparent: traceparent, allocator: ByteBufferAllocator()
                    )
                )
                let builtFromLines = rewriter.upstreamHead(for: asLines, target: c.uri, endpoint: "127.0.0.1:9000", traceparent: traceparent)
                let built = rewriter.upstreamHead(for: request, target: c.uri, endpoint: "127.0.0.1:9000", traceparent: traceparent)
                let encoded = try #require(
                    rewriter.encodedUpstreamHead(
                        for: request, target: c.uri, endpoint: "127.0.0.1:9000", traceparent: traceparent, allocator: ByteBufferAllocator()
                    )
                )
                var expected = "\(built.method.rawValue) \(built.uri) HTTP/1.1\r\n"
                for (n, v) in built.headers { expected += "\(n): \(v)\r\n" }
                expected += "\r\n"
                #expect(String(buffer: encoded.bytes) == expected, "\(c.method) \(c.uri)")
                #expect(String(buffer: fromLines.bytes) == expected, "\(c.method) \(c.uri) from lines")
                #expect(builtFromLines.headers == built.headers, "\(c.method) \(c.uri) from lines")
                #expect(encoded.isHEAD == (c.method == .HEAD))
                #expect(encoded.chunked == (built.headers.first(name: "transfer-encoding") == "chunked"))
            }
        }
        // And what the bytes say, for two of them (so the agreement is not of two wrong heads).
        let rewriter = try RequestRewriter(Configuration.ProxyAction(upstream: "u"), trustedProxies: [trusted], viaName: "meridian")
        var headers = HTTPHeaders()
        for (n, v) in cases[1].fields { headers.add(name: n, value: v) }
        let request = Request(
            head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: headers), id: "r",
            connection: ConnectionInfo(remoteAddress: try SocketAddress(ipAddress: "192.0.2.1", port: 4000), localAddress: nil)
        )
        let bytes = try #require(
            rewriter.encodedUpstreamHead(for: request, target: "/", endpoint: "e:1", traceparent: nil, allocator: ByteBufferAllocator())
        ).bytes
        #expect(
            String(buffer: bytes)
                == "GET / HTTP/1.1\r\nCookie: a=1\r\ncookie: b=2\r\nhost: example.com:8080\r\nx-forwarded-for: 192.0.2.1\r\n"
                + "x-forwarded-proto: http\r\nx-forwarded-host: example.com:8080\r\n"
                + "forwarded: for=192.0.2.1;proto=http;host=\"example.com:8080\"\r\nvia: 1.0 edge, 1.1 meridian\r\n"
                + "content-length: 0\r\n\r\n"
        )
        let fromTrusted = Request(
            head: HTTPRequestHead(version: .http1_1, method: .POST, uri: "/up", headers: HTTPHeaders(cases[2].fields)), id: "r",
            connection: ConnectionInfo(remoteAddress: try SocketAddress(ipAddress: "10.1.2.3", port: 4000), localAddress: nil)
        )
        let trustedBytes = String(
            buffer: try #require(
                rewriter.encodedUpstreamHead(for: fromTrusted, target: "/up", endpoint: "e:1", traceparent: nil, allocator: ByteBufferAllocator())
            ).bytes
        )
        #expect(trustedBytes.contains("x-forwarded-for: 203.0.113.9, 198.51.100.2, 10.1.2.3\r\n"))
        #expect(trustedBytes.contains("x-forwarded-proto: https\r\nx-forwarded-host: public.example\r\n"))
        #expect(trustedBytes.contains("forwarded: for=203.0.113.9;proto=https, for=10.1.2.3;proto=http;host=example.com\r\n"))
        #expect(trustedBytes.hasSuffix("via: 1.1 lb, 1.1 meridian\r\ncontent-length: 5\r\n\r\n"))
        #expect(!trustedBytes.lowercased().contains("expect"))
        // Header rules and upgrades take the HTTPHeaders way.
        let ruled = try RequestRewriter(
            Configuration.ProxyAction(upstream: "u", requestHeaders: .init(remove: ["cookie"])), trustedProxies: [], viaName: "m"
        )
        #expect(ruled.encodedUpstreamHead(for: request, target: "/", endpoint: "e:1", traceparent: nil, allocator: ByteBufferAllocator()) == nil)
        try loop.syncShutdownGracefully()
    }
}
