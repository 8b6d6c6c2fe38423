import Dispatch
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import MeridianCore

/// ``RequestFields`` over the bytes the parser keeps must read exactly as `HTTPHeaders` does over the same fields:
/// lookups in any case, every value in order, canonical form, iteration, and the `HTTPHeaders` a request decodes.
@Suite struct RequestFieldsTests {
    static let limits = HTTP1RequestDecoder.Limits()

    /// The head the parser gives for `text` (which must be one whole head).
    static func parse(_ text: String) throws -> RequestHead {
        var parser = HTTP1RequestParser(limits: limits)
        var buffer = ByteBuffer(string: text)
        guard case .head(let head)? = try parser.next(&buffer) else {
            Issue.record("no head in \(text.debugDescription)")
            throw CancellationError()
        }
        return head
    }

    static let sample = """
        GET /a?b=c HTTP/1.1\r
        Host: Example.COM:8080\r
        X-Empty:\r
        X-Pad:   v  \r
        Accept: text/html, application/json ;q=0.9,,  */*\r
        accept: image/webp\r
        Set-Cookie: a=1, b=2\r
        X-Unicode: naïve ☃\r
        User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r
        \r

        """

    static let sampleFields: [(String, String)] = [
        ("Host", "Example.COM:8080"), ("X-Empty", ""), ("X-Pad", "v"),
        ("Accept", "text/html, application/json ;q=0.9,,  */*"),
        ("accept", "image/webp"), ("Set-Cookie", "a=1, b=2"), ("X-Unicode", "naïve ☃"),
        ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"),
    ]

    @Test func theParserKeepsFieldsAsLines() throws {
        let head = try Self.parse(Self.sample)
        guard head.fields.isLines else {
            Issue.record("an HTTP/1.1 head's fields should be lines")
            return
        }
        #expect(head.method == .GET && head.uri == "/a?b=c" && head.version == .http1_1)
        #expect(head.fields.count == Self.sampleFields.count)
        #expect(head.fields.map { [$0.name, $0.value] } == Self.sampleFields.map { [$0.0, $0.1] })
        var viaBytes: [[String]] = []
        head.fields.forEachField { n, v in
            viaBytes.append([String(decoding: n, as: UTF8.self), String(decoding: v, as: UTF8.self)])
        }
        #expect(viaBytes == Self.sampleFields.map { [$0.0, $0.1] })
    }

    @Test func linesReadAsHTTPHeadersRead() throws {
        let lines = try Self.parse(Self.sample).fields
        let headers = HTTPHeaders(Self.sampleFields)
        let decoded = RequestFields(headers)
        let names = [
            "host", "HOST", "x-empty", "X-PAD", "accept", "Accept", "set-cookie", "x-unicode", "user-agent", "missing",
            "", "hos",
        ]
        for fields in [lines, decoded] {
            for name in names {
                #expect(fields.first(name: name) == headers.first(name: name), "\(name)")
                #expect(fields[name] == headers[name], "\(name)")
                #expect(fields[canonicalForm: name] == headers[canonicalForm: name], "\(name)")
                #expect(fields.contains(name: name) == headers.contains(name: name), "\(name)")
            }
            #expect(fields.httpHeaders == headers)
        }
    }

    @Test func aRequestDecodesItsLinesOnceAndAgreesOnEveryThread() throws {
        let head = try Self.parse(Self.sample)
        let request = Request(head: head, id: "r", connection: ConnectionInfo(remoteAddress: nil, localAddress: nil))
        #expect(request.host == "example.com")
        #expect(request.uri == "/a?b=c")
        #expect(!request.headersDecoded, "nothing asked for HTTPHeaders yet")
        let expected = HTTPHeaders(Self.sampleFields)
        let seen = Mutex<[HTTPHeaders]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let h = request.headers
            seen.withLock { $0.append(h) }
        }
        #expect(seen.withLock { $0 }.count == 8)
        #expect(seen.withLock { $0 }.allSatisfy { $0 == expected })
        #expect(request.headersDecoded)
        #expect(request.head.headers == expected)
        // In order and as spelled (HTTPHeaders' == ignores both).
        #expect(request.headers.map { [$0.name, $0.value] } == Self.sampleFields.map { [$0.0, $0.1] })
    }

    @Test func anAbsoluteFormTargetPutsItsAuthorityInHost() throws {
        let head = try Self.parse("GET http://other.example:81/p?q HTTP/1.1\r\nHost: ignored.example\r\nA: 1\r\n\r\n")
        #expect(head.uri == "/p?q")
        #expect(head.fields.first(name: "host") == "other.example:81")
        #expect(head.fields["host"] == ["other.example:81"])
        #expect(head.fields.first(name: "a") == "1")
    }

    @Test func valuesThatAreNotUTF8AreKeptAsReceived() throws {
        var bytes = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\nX-N: caf")
        bytes.writeBytes([0xE9, 0x09, 0x20])  // Latin-1 é, then whitespace the parser trims
        bytes.writeString("\r\n\r\n")
        var parser = HTTP1RequestParser(limits: Self.limits)
        guard case .head(let head)? = try parser.next(&bytes) else {
            Issue.record("no head")
            return
        }
        var value: [UInt8] = []
        head.fields.forEachField { name, v in if name.equalsLowercase("x-n") { value = Array(v) } }
        #expect(value == Array("caf".utf8) + [0xE9])
        #expect(head.fields.first(name: "x-n") == "caf\u{FFFD}")  // as a String: replaced, as HTTPHeaders had it
    }

    @Test func aHeadOfManyShortLinesIsRefusedAtTheFieldLimit() throws {
        let limits = HTTP1RequestDecoder.Limits(maxHeaderBytes: 40_000, maxHeaderCount: 100)
        var parser = HTTP1RequestParser(limits: limits)
        var bytes = ByteBuffer(
            string: "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "a:\r\n", count: 8000) + "\r\n")
        #expect(throws: HTTPParseError.self) { try parser.next(&bytes) }
        // A table sized by the limit, not by the lines: 100 entries fit, the 101st is never asked for.
        Array(repeating: UInt8(ascii: "\n"), count: 8000).withUnsafeBytes { section in
            var builder = RequestFieldsBuilder(section: section, allocator: ByteBufferAllocator(), maxCount: 100)
            for i in 0..<100 { builder.add(name: i..<i, value: i..<i) }
            #expect(builder.build().count == 100)
        }
    }

    @Test func aHeadWithoutFieldsHasNone() throws {
        let head = try Self.parse("GET / HTTP/1.0\r\n\r\n")
        #expect(head.fields.isEmpty)
        #expect(head.fields.first(name: "host") == nil)
        #expect(Array(head.fields).isEmpty)
        #expect(head.fields.httpHeaders == HTTPHeaders())
    }

    /// Lines for `fields` as the parser would keep them (no syntax check: tests give any bytes).
    static func lines(_ fields: [(String, String)]) -> RequestFields {
        var text = ""
        var ranges: [(Range<Int>, Range<Int>)] = []
        for (n, v) in fields {
            let s = text.utf8.count
            let vs = s + n.utf8.count + 2
            ranges.append((s..<(s + n.utf8.count), vs..<(vs + v.utf8.count)))
            text += "\(n): \(v)\r\n"
        }
        return Array(text.utf8).withUnsafeBytes { raw in
            var builder = RequestFieldsBuilder(section: raw, allocator: ByteBufferAllocator())
            for (n, v) in ranges { builder.add(name: n, value: v) }
            return builder.build()
        }
    }
}
