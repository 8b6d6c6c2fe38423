import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOTestUtils
import Testing

@testable import MeridianCore

/// The decoder in isolation: every valid input fed one byte at a time and in one piece must give the
/// same parts (ByteToMessageDecoderVerifier), and every limit and error maps to its status.
@Suite struct HTTP1RequestDecoderTests {
    static let limits = HTTP1RequestDecoder.Limits(maxRequestLine: 128, maxHeaderBytes: 256, maxHeaderCount: 8, maxBodyBytes: 64)

    func head(_ method: HTTPMethod, _ uri: String, _ headers: [(String, String)], version: HTTPVersion = .http1_1) -> HTTPServerRequestPart {
        .head(HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(headers)))
    }

    @Test func validRequestsDecodeTheSameWhateverTheChunking() throws {
        let input = ByteBuffer(
            string: "GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Pad:   v  \r\n\r\n"
                + "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                + "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1;x=y\r\nc\r\n0\r\nT: 1\r\n\r\n"
                + "GET /old HTTP/1.0\r\n\r\n"
        )
        let expected: [HTTPServerRequestPart] = [
            head(.GET, "/a?b=c", [("Host", "x"), ("X-Empty", ""), ("X-Pad", "v")]), .end(nil),
            head(.POST, "/p", [("Host", "x"), ("Content-Length", "3")]), .body(ByteBuffer(string: "abc")), .end(nil),
            head(.PUT, "/c", [("Host", "x"), ("Transfer-Encoding", "chunked")]), .body(ByteBuffer(string: "ab")),
            .body(ByteBuffer(string: "c")), .end(HTTPHeaders([("T", "1")])),
            head(.GET, "/old", [], version: .http1_0), .end(nil),
        ]
        // The verifier compares part by part; bodies may split differently byte by byte, so compare
        // the concatenation per request instead.
        let decoded = try Self.decodeAll(input)
        #expect(Self.normalise(decoded) == Self.normalise(expected))
        let oneByOne = try Self.decodeAll(input, chunk: 1)
        #expect(Self.normalise(oneByOne) == Self.normalise(expected))
    }

    @Test func verifierAgreesOnHeadOnlyRequests() throws {
        let input = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\nDELETE /d HTTP/1.1\r\nHost: y\r\nA: b\r\n\r\n")
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(input, [head(.GET, "/", [("Host", "x")]), .end(nil), head(.DELETE, "/d", [("Host", "y"), ("A", "b")]), .end(nil)])],
            decoderFactory: { HTTP1RequestDecoder(limits: Self.limits) }
        )
    }

    @Test(arguments: [
        ("GET /\(String(repeating: "a", count: 200)) HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        ("GET /\(String(repeating: "a", count: 200))", 414),
        ("GET / HTTP/1.1\r\nHost: x\r\nA: \(String(repeating: "b", count: 300))\r\n\r\n", 431),
        ("GET / HTTP/1.1\r\nHost: x\r\nA: \(String(repeating: "b", count: 300))", 431),
        ("GET / HTTP/1.1\r\nHost: x\r\n" + (0..<9).map { "H\($0): v\r\n" }.joined() + "\r\n", 431),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n\(String(repeating: "a", count: 32))\r\n21\r\n", 413),
        ("GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br, chunked\r\n\r\n", 501),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\n X: folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\n\n", 400),
    ])
    func errorsMapToStatus(_ input: String, _ status: Int) {
        var failure: HTTPParseError?
        do {
            _ = try Self.decodeAll(ByteBuffer(string: input), chunk: 1)
        } catch let e as HTTPParseError {
            failure = e
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(failure?.status.code == UInt(status))
    }

    @Test func oneByteAtATimeHeadOfMaximumSizeStaysLinear() throws {
        // 256 header bytes fed one at a time: the scan resumes where it stopped instead of
        // starting over, so this is fast (a quadratic scan would take 10^5 more steps at 32 KiB).
        let limits = HTTP1RequestDecoder.Limits(maxRequestLine: 8192, maxHeaderBytes: 32 * 1024, maxHeaderCount: 100, maxBodyBytes: 0)
        let value = String(repeating: "v", count: 32 * 1024 - 200)
        let input = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\nBig: \(value)\r\n\r\n")
        let clock = ContinuousClock()
        let elapsed = try clock.measure { _ = try Self.decodeAll(input, chunk: 1, limits: limits) }
        #expect(elapsed < .seconds(5))
    }

    @Test func headStartedEventFiresOnlyForPartialHeads() throws {
        let channel = EmbeddedChannel()
        let recorder = EventRecorder()
        try channel.pipeline.syncOperations.addHandlers([ByteToMessageHandler(HTTP1RequestDecoder(limits: Self.limits)), recorder])
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(recorder.events == 0)
        try channel.writeInbound(ByteBuffer(string: "GET / HT"))
        #expect(recorder.events == 1)
        try channel.writeInbound(ByteBuffer(string: "TP/1.1\r\n"))
        #expect(recorder.events == 1)
        _ = try? channel.finish()
    }

    final class EventRecorder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        var events = 0
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .requestHeadStarted? = event as? HTTP1RequestDecoder.Event { events += 1 }
        }
    }

    // MARK: helpers

    static func decodeAll(_ input: ByteBuffer, chunk: Int? = nil, limits: HTTP1RequestDecoder.Limits = limits) throws -> [HTTPServerRequestPart] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTP1RequestDecoder(limits: limits)))
        defer { _ = try? channel.finish() }
        var input = input
        let step = chunk ?? input.readableBytes
        while input.readableBytes > 0 {
            let piece = input.readSlice(length: min(step, input.readableBytes))!
            try channel.writeInbound(piece)
        }
        var parts: [HTTPServerRequestPart] = []
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) { parts.append(part) }
        return parts
    }

    /// Joins consecutive body parts so chunking differences do not matter.
    static func normalise(_ parts: [HTTPServerRequestPart]) -> [HTTPServerRequestPart] {
        var out: [HTTPServerRequestPart] = []
        for part in parts {
            if case .body(var b) = part, case .body(var previous)? = out.last {
                previous.writeBuffer(&b)
                out[out.count - 1] = .body(previous)
            } else {
                out.append(part)
            }
        }
        return out
    }
}
