import Foundation
import Testing

@testable import MeridianCore

/// RFC 9113 stream-state and length rules answered as stream errors, with raw frames.
@Suite struct HTTP2StreamStateTests {
    static let routes: [(String, any Responder)] = [("/wait", GoneWatcher()), ("/echo", BodyEcho())]

    func connect(_ s: LayerServer) async throws -> RawClient {
        let c = try await RawClient.connect(port: s.port)
        try await c.send(bytes: H2.clientStart + H2.frame(.settings, flags: H2.Flags.ack, stream: 0))
        return c
    }

    func goaway(_ frames: [H2.Frame]) -> Bool { frames.contains { $0.type == H2.FrameType.goaway.rawValue } }

    /// §5.1: a stream the client ended is half-closed (remote); HEADERS on it are a stream error
    /// STREAM_CLOSED.
    @Test func headersOnAHalfClosedStreamAreStreamClosed() async throws {
        try await withLayerServer(Self.routes) { s in
            let c = try await connect(s)
            try await c.send(bytes: H2.request(stream: 1, path: "/wait"))
            try await c.send(bytes: H2.request(stream: 1, path: "/wait"))
            try await c.send(bytes: H2.request(stream: 3, path: "/echo", method: "POST", endStream: false) + H2.data(stream: 3, "ok", end: true))
            let frames = try await collectFrames(c) { H2.rst($0, stream: 1) != nil && H2.dataText($0, stream: 3).hasSuffix("\n") }
            #expect(H2.rst(frames, stream: 1) == H2.ErrorCode.streamClosed.rawValue)
            #expect(!goaway(frames), "a stream error, not a connection error")
            #expect(H2.dataText(frames, stream: 3).hasPrefix("bytes=2"))
            await c.close()
        }
    }

    /// §5.1: DATA on a half-closed (remote) stream is STREAM_CLOSED too.
    @Test func dataAfterEndStreamIsStreamClosed() async throws {
        try await withLayerServer(Self.routes) { s in
            let c = try await connect(s)
            try await c.send(bytes: H2.request(stream: 1, path: "/wait") + H2.data(stream: 1, "late"))
            let frames = try await collectFrames(c) { H2.rst($0, stream: 1) != nil || goaway($0) }
            #expect(H2.rst(frames, stream: 1) == H2.ErrorCode.streamClosed.rawValue || goaway(frames))
            await c.close()
        }
    }

    static func post(length: String, _ data: [[UInt8]]) -> [UInt8] {
        let head: [UInt8] = H2.request(stream: 1, path: "/echo", method: "POST", extra: [("content-length", length)], endStream: data.isEmpty)
        return data.reduce(head, +)
    }

    static let mismatches: [(String, [UInt8])] = [
        ("one DATA shorter", post(length: "5", [H2.data(stream: 1, "abc", end: true)])),
        ("one DATA longer", post(length: "2", [H2.data(stream: 1, "abc", end: true)])),
        ("two DATA longer", post(length: "4", [H2.data(stream: 1, "abc"), H2.data(stream: 1, "de", end: true)])),
        ("no DATA at all", post(length: "3", [])),
        ("trailers end it short", post(length: "5", [H2.data(stream: 1, "abc"), H2.trailers(stream: 1, [("x-t", "1")])])),
    ]

    /// §8.1.1: content-length that differs from the DATA sent, including the single-frame case.
    @Test(arguments: mismatches)
    func contentLengthMismatchIsProtocolError(_ name: String, _ bytes: [UInt8]) async throws {
        try await withLayerServer(Self.routes) { s in
            let c = try await connect(s)
            try await c.send(bytes: bytes)
            let frames = try await collectFrames(c) { H2.rst($0, stream: 1) != nil || goaway($0) }
            #expect(H2.rst(frames, stream: 1) == H2.ErrorCode.protocolError.rawValue, "\(name)")
            #expect(!frames.contains { $0.type == H2.FrameType.headers.rawValue && $0.stream == 1 }, "\(name): stream 1 was answered")
            await c.close()
        }
    }
}
