import Foundation
import Testing

/// Raw-frame tests of RFC 9113 error handling and of the flood mitigations: each sends what no
/// well-behaved client would, and checks the scope (RST_STREAM for a stream, GOAWAY for the
/// connection) and the error code that come back.
@Suite struct HTTP2ProtocolErrorTests {
    typealias Fixture = TLSFixture

    func withFixture<T>(_ http2: String = "", _ body: (Fixture) async throws -> T) async throws -> T {
        try await withTLSFixture(http2: http2, files: ["index.html": "hi"], body)
    }

    /// Opens an h2 connection, sends `frames` after the preface, and collects what the server sends
    /// back until it closes or `settle` passes.
    func exchange(_ f: Fixture, _ frames: [UInt8], settle: Duration = .seconds(3)) async throws -> (frames: [H2.Frame], closed: Bool) {
        let c = try await RawClient.connect(port: f.server.port, tls: .init(serverName: "a.test", caPath: f.certs.caPath, alpn: ["h2"]))
        #expect(try await c.handshake() == "h2")
        try await c.send(bytes: H2.clientStart + H2.frame(.settings, flags: H2.Flags.ack, stream: 0) + frames)
        let closed = await c.waitForClose(timeout: settle)
        let result = H2.parse(c.pending)
        await c.close()
        return (result, closed)
    }

    func rst(_ frames: [H2.Frame], stream: UInt32) -> UInt32? {
        frames.first { $0.type == H2.FrameType.rstStream.rawValue && $0.stream == stream }?.errorCode
    }

    func goaway(_ frames: [H2.Frame]) -> UInt32? {
        frames.first { $0.type == H2.FrameType.goaway.rawValue }?.errorCode
    }

    @Test func aGoodRequestIsAnswered() async throws {
        try await withFixture { f in
            let (frames, _) = try await exchange(f, H2.request(stream: 1), settle: .milliseconds(500))
            #expect(frames.contains { $0.type == H2.FrameType.headers.rawValue && $0.stream == 1 })
            #expect(frames.contains { $0.type == H2.FrameType.data.rawValue && $0.stream == 1 && $0.payload == Array("hi".utf8) })
            // The server's SETTINGS carry the configured limits.
            #expect(frames.first?.type == H2.FrameType.settings.rawValue)
        }
    }

    @Test(arguments: [
        ("missing :path", H2.frame(.headers, flags: H2.Flags.endHeaders | H2.Flags.endStream, stream: 1, H2.hpack([(":method", "GET"), (":scheme", "https"), (":authority", "a.test")]))),
        ("uppercase header name", H2.request(stream: 1, extra: [("X-Upper", "1")])),
        ("connection-specific header", H2.request(stream: 1, extra: [("connection", "keep-alive")])),
        ("pseudo-header after regular header", H2.frame(.headers, flags: H2.Flags.endHeaders | H2.Flags.endStream, stream: 1, H2.hpack([(":method", "GET"), ("x-a", "1"), (":scheme", "https"), (":path", "/"), (":authority", "a.test")]))),
        ("content-length disagrees with DATA", H2.request(stream: 1, extra: [("content-length", "5")], endStream: false) + H2.frame(.data, flags: H2.Flags.endStream, stream: 1, Array("abc".utf8))),
    ])
    func malformedRequestsResetTheStreamWithProtocolError(_ name: String, _ frames: [UInt8]) async throws {
        try await withFixture { f in
            let (got, _) = try await exchange(f, frames + H2.request(stream: 3), settle: .milliseconds(800))
            let streamError = rst(got, stream: 1)
            let connectionError = goaway(got)
            #expect(streamError == H2.ErrorCode.protocolError.rawValue || connectionError == H2.ErrorCode.protocolError.rawValue, "\(name): \(got.map { ($0.type, $0.stream, $0.errorCode as Any) })")
            #expect(!got.contains { $0.type == H2.FrameType.data.rawValue && $0.stream == 1 }, "\(name): stream 1 was answered")
        }
    }

    @Test func aStreamErrorLeavesTheConnectionServingOthers() async throws {
        try await withFixture { f in
            // content-length 1 with END_STREAM on HEADERS: NIOHTTP2 resets that stream only.
            let bad = H2.request(stream: 1, extra: [("content-length", "1")])
            let (got, closed) = try await exchange(f, bad + H2.request(stream: 3), settle: .milliseconds(800))
            #expect(rst(got, stream: 1) == H2.ErrorCode.protocolError.rawValue)
            #expect(goaway(got) == nil && !closed)
            #expect(got.contains { $0.type == H2.FrameType.data.rawValue && $0.stream == 3 && $0.payload == Array("hi".utf8) })
        }
    }

    @Test func connectIsNotServed() async throws {
        try await withFixture { f in
            let connect = H2.frame(.headers, flags: H2.Flags.endHeaders | H2.Flags.endStream, stream: 1, H2.hpack([(":method", "CONNECT"), (":authority", "a.test:443")]))
            let (got, _) = try await exchange(f, connect, settle: .milliseconds(500))
            let headers = got.first { $0.type == H2.FrameType.headers.rawValue && $0.stream == 1 }
            #expect(headers != nil)
            #expect(!got.contains { $0.type == H2.FrameType.data.rawValue && $0.stream == 1 && $0.payload == Array("hi".utf8) })
        }
    }

    @Test func silentHTTP2ConnectionIsClosedByTheIdleTimeout() async throws {
        // The client never acknowledges the server's PING: the send timeout ends it after GOAWAY.
        try await withTLSFixture(extra: "timeouts: {idle: 300ms, send: 300ms}") { f in
            let (got, closed) = try await exchange(f, [], settle: .seconds(5))
            #expect(closed)
            #expect(goaway(got) == H2.ErrorCode.noError.rawValue)
        }
    }

    @Test func aStreamWhoseClientNeverOpensItsWindowIsReset() async throws {
        try await withTLSFixture(extra: "timeouts: {send: 300ms}") { f in
            try Data(count: 2_000_000).write(to: f.server.directory.appendingPathComponent("big.bin"))
            // SETTINGS_INITIAL_WINDOW_SIZE (0x4) = 0: the server may send no DATA at all.
            let zeroWindow = H2.frame(.settings, stream: 0, [0x00, 0x04] + H2.be32(0))
            let c = try await RawClient.connect(port: f.server.port, tls: .init(serverName: "a.test", caPath: f.certs.caPath, alpn: ["h2"]))
            _ = try await c.handshake()
            try await c.send(bytes: H2.preface + zeroWindow + H2.frame(.settings, flags: H2.Flags.ack, stream: 0) + H2.request(stream: 1, path: "/big.bin"))
            var reset: UInt32?
            for _ in 0..<100 where reset == nil {
                reset = rst(H2.parse(c.pending), stream: 1)
                if reset == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(reset == H2.ErrorCode.cancel.rawValue)
            await c.close()
        }
    }

    @Test func oversizedFrameIsAFrameSizeError() async throws {
        try await withFixture { f in
            let (got, closed) = try await exchange(f, H2.request(stream: 1, endStream: false) + H2.frame(.data, stream: 1, [UInt8](repeating: 0, count: 20000)))
            #expect(goaway(got) == H2.ErrorCode.frameSizeError.rawValue)
            #expect(closed)
        }
    }

    @Test func windowOverflowIsAFlowControlError() async throws {
        try await withFixture { f in
            let update = H2.frame(.windowUpdate, stream: 0, H2.be32(0x7FFF_FFFF))
            let (got, closed) = try await exchange(f, update + update)
            #expect(goaway(got) == H2.ErrorCode.flowControlError.rawValue)
            #expect(closed)
        }
    }

    @Test func dataOnAClosedStreamIsStreamClosed() async throws {
        try await withFixture { f in
            let (got, _) = try await exchange(f, H2.request(stream: 1) + H2.frame(.data, flags: H2.Flags.endStream, stream: 1, [1, 2, 3]), settle: .milliseconds(800))
            let code = rst(got, stream: 1) ?? goaway(got)
            #expect(code == H2.ErrorCode.streamClosed.rawValue, "\(got.map { ($0.type, $0.stream, $0.errorCode as Any) })")
        }
    }

    @Test func brokenHPACKIsACompressionError() async throws {
        try await withFixture { f in
            // An indexed field pointing far past both tables.
            let (got, closed) = try await exchange(f, H2.frame(.headers, flags: H2.Flags.endHeaders | H2.Flags.endStream, stream: 1, [0xFF, 0xFF, 0xFF, 0x0F]))
            #expect(goaway(got) == H2.ErrorCode.compressionError.rawValue)
            #expect(closed)
        }
    }

    @Test func rapidResetClosesTheConnection() async throws {
        try await withFixture("max_resets_per_30s: 50") { f in
            var flood: [UInt8] = []
            for i in 0..<200 {
                let stream = UInt32(2 * i + 1)
                flood += H2.request(stream: stream) + H2.frame(.rstStream, stream: stream, H2.be32(H2.ErrorCode.cancel.rawValue))
            }
            let (got, closed) = try await exchange(f, flood)
            #expect(goaway(got) == H2.ErrorCode.enhanceYourCalm.rawValue, "\(got.filter { $0.type == 7 }.map { $0.errorCode as Any })")
            #expect(closed)
        }
    }

    @Test func continuationFloodClosesTheConnection() async throws {
        try await withFixture { f in
            var flood = H2.frame(.headers, stream: 1, H2.hpack([(":method", "GET")]))
            for _ in 0..<50 { flood += H2.frame(.continuation, stream: 1, H2.hpack([("x-pad", "1")])) }
            let (got, closed) = try await exchange(f, flood)
            #expect(goaway(got) != nil)
            #expect(closed)
        }
    }

    @Test func pingFloodClosesTheConnection() async throws {
        try await withFixture("max_control_frames_per_30s: 100") { f in
            var flood: [UInt8] = []
            for i in 0..<400 { flood += H2.frame(.ping, stream: 0, H2.be32(UInt32(i)) + H2.be32(0)) }
            let (got, closed) = try await exchange(f, flood)
            #expect(goaway(got) == H2.ErrorCode.enhanceYourCalm.rawValue)
            #expect(closed)
        }
    }

    @Test func settingsFloodClosesTheConnection() async throws {
        try await withFixture("max_control_frames_per_30s: 100") { f in
            var flood: [UInt8] = []
            for _ in 0..<400 { flood += H2.frame(.settings, stream: 0) }
            let (got, closed) = try await exchange(f, flood)
            #expect(goaway(got) == H2.ErrorCode.enhanceYourCalm.rawValue)
            #expect(closed)
        }
    }
}

import NIOHPACK
@testable import MeridianCore

/// The request header block checks of RFC 9113 §8.2 and §8.3.1, as a pure function.
@Suite struct HTTP2HeaderValidationTests {
    static let base: [(String, String)] = [(":method", "GET"), (":scheme", "https"), (":authority", "a"), (":path", "/")]

    @Test(arguments: [
        ([(":method", "GET"), (":scheme", "https"), (":authority", "a")], "missing :scheme or :path"),
        (base + [(":path", "/again")], "duplicate :path"),
        (base + [(":status", "200")], "unknown pseudo-header :status"),
        ([(":method", "GET"), ("x", "1"), (":scheme", "https"), (":path", "/")], "pseudo-header after a regular field"),
        (base + [("X-Upper", "1")], "invalid or upper-case field name"),
        (base + [("bad name", "1")], "invalid or upper-case field name"),
        (base + [("connection", "close")], "connection-specific field connection"),
        (base + [("transfer-encoding", "chunked")], "connection-specific field transfer-encoding"),
        (base + [("upgrade", "websocket")], "connection-specific field upgrade"),
        (base + [("te", "gzip")], "te other than trailers"),
        (base + [("x", " padded")], "leading whitespace in a value"),
        (base + [("x", "a\r\nb")], "NUL, CR or LF in a value"),
        ([(":method", "GET"), (":scheme", "https"), (":path", "")], "empty :path"),
    ] as [([(String, String)], String)])
    func malformed(_ headers: [(String, String)], _ reason: String) {
        #expect(HTTP2ConnectionHandler.malformation(HPACKHeaders(headers)) == reason)
    }

    @Test func wellFormed() {
        #expect(HTTP2ConnectionHandler.malformation(HPACKHeaders(Self.base + [("te", "trailers"), ("content-length", "0"), ("cookie", "a=1")])) == nil)
        #expect(HTTP2ConnectionHandler.malformation(HPACKHeaders([(":method", "CONNECT"), (":authority", "a:443")])) == nil)
    }
}
