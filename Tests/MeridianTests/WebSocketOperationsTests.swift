import Foundation
import MeridianServer
import NIOCore
import Testing

/// Channels in an instance's life: a reload keeps them, route middleware sees the handshake, compression
/// leaves WebSockets alone and flushes each SSE event, and `/metrics` counts them.
/// After the main suite, with the other channel suites (see `WebSocketChannelTests`).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct WebSocketOperationsTests {
    static let yaml = """
        compression: {min_length: 1}
        hosts:
          - default: true
            routes:
              - match: {path: /ws/:channel}
                websocket: {}
              - match: {path: /limited/:channel}
                rate_limit: {rate: 1, per: 1m, burst: 1, key: route}
                websocket: {}
              - match: {path: /events/:channel}
                sse: {}
        """

    @Test func aReloadKeepsEveryOpenChannel() async throws {
        try await withTestServer(Self.yaml) { s in
            let peer = try WebSocketPeer("ws://127.0.0.1:\(s.port)/ws/stay", ["--hold"])
            try await peer.wait(for: "open")
            let sse = try await s.client()
            try await sse.send("GET /events/stay HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n")
            let head = try await sse.readResponse(head: true)
            #expect(head.status == 200)
            try await WebSocketChannelTests.waitForSubscribers(s, "stay", 2)
            // SIGHUP does this: a new runtime swapped in whole.
            let reloaded = s.app.reload()
            #expect(reloaded.applied)
            #expect(s.app.channels.subscriberCount("stay") == 2, "the reload touched no connection")
            _ = try await WebSocketChannelTests.publish(s, "stay", "still here")
            #expect(try await peer.waitForMessages(1) == ["still here"])
            // The SSE stream is gzip-compressed and the event arrives without waiting for more (each is flushed).
            #expect(head.header("content-encoding") == "gzip")
            let bytes = await sse.readUntil { Self.gunzipChunks($0).contains("data: still here") }
            #expect(Self.gunzipChunks(bytes).contains("data: still here\n\n"))
            await sse.close()
        }
    }

    @Test func theHandshakeGoesThroughTheRoutesMiddleware() async throws {
        try await withTestServer(Self.yaml) { s in
            let first = try WebSocketPeer("ws://127.0.0.1:\(s.port)/limited/x", ["--hold"])
            try await first.wait(for: "open")
            let second = try WebSocketPeer("ws://127.0.0.1:\(s.port)/limited/x")
            #expect(try await second.wait(for: "refused")["status"] as? Int == 429, "the rate limit answered the second handshake")
        }
    }

    /// A handshake that lands while the instance drains gets 1001 at once, and leaves no open connection counted.
    @Test func aHandshakeDuringDrainIsToldToGoAndNotCounted() async throws {
        try await withTestServer(Self.yaml) { s in
            s.app.channels.drain()
            let (c, head) = try await RawClient.webSocket(port: s.port, path: "/ws/late")
            #expect(head.status == 101)
            let frames = await c.frames { $0.contains { $0.opcode == 0x8 } }
            #expect(frames.last?.closeCode == 1001)
            try await c.send(bytes: WSWire.close(1001))
            #expect(await c.waitForClose())
            let route = s.app.channels.stats.allRoutes.first { $0.label == "/ws/:channel" }?.route
            try await waitUntil { route?.open.load(ordering: .relaxed) == 0 }
            #expect(route?.closedDraining.load(ordering: .relaxed) == 1)
        }
    }

    @Test func metricsCountConnectionsMessagesAndFanOut() async throws {
        try await withTestServer(Self.yaml) { s in
            let peer = try WebSocketPeer("ws://127.0.0.1:\(s.port)/ws/m", ["--send", "a", "--send", "b", "--expect", "2"])
            _ = try await peer.waitForMessages(2)
            try await peer.wait(for: "close")
            try await waitUntil { s.app.channels.subscriberCount("m") == 0 }
            let m = try await s.metrics()
            func value(_ family: String, _ sample: String, _ labels: [String: String]) -> Double? {
                m[family]?.samples.first { candidate in candidate.name == sample && labels.allSatisfy { k, v in candidate.labels[k] == v } }?.value
            }
            let route = ["route": "/ws/:channel", "protocol": "websocket"]
            #expect(value("meridian_channel_connections", "meridian_channel_connections", route) == 0)
            #expect(value("meridian_channel_connections_opened", "meridian_channel_connections_opened_total", route) == 1)
            #expect(value("meridian_channel_messages", "meridian_channel_messages_total", route.merging(["direction": "in"]) { $1 }) == 2)
            #expect(value("meridian_channel_messages", "meridian_channel_messages_total", route.merging(["direction": "out"]) { $1 }) == 2)
            #expect(value("meridian_channel_published", "meridian_channel_published_total", ["scope": "instance"]) == 2)
            #expect(value("meridian_channel_fanout_seconds", "meridian_channel_fanout_seconds_count", [:]) == 2)
            #expect(m["meridian_channel_fanout_seconds"]?.type == "histogram")
            // Channel names never become labels.
            #expect(!(m.values.flatMap(\.samples).contains { $0.labels.values.contains("m") }))
        }
    }

    /// The decompressed text of a chunked gzip body received so far (whole chunks only).
    static func gunzipChunks(_ bytes: [UInt8]) -> String {
        var body: [UInt8] = []
        var i = 0
        while let lineEnd = (i..<max(i, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) {
            guard let size = Int(String(decoding: bytes[i..<lineEnd], as: UTF8.self), radix: 16), size > 0 else { break }
            let start = lineEnd + 2
            guard start + size <= bytes.count else { break }
            body += bytes[start..<(start + size)]
            i = start + size + 2
        }
        return String(decoding: (try? Decompressors.gunzip(body).bytes) ?? [], as: UTF8.self)
    }
}
