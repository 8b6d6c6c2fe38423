import Foundation
import MeridianServer
import NIOCore
import Testing

/// Channels across instances through one real `redis-server`, and over HTTP/2 (RFC 8441).
/// After the main suite, with the other channel suites (see `WebSocketChannelTests`).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct WebSocketClusterTests {
    static func yaml(redis: Int, prefix: String, commandTimeout: String = "1s") -> String {
        """
        redis: {url: "redis://127.0.0.1:\(redis)", key_prefix: "\(prefix)", timeouts: {command: \(commandTimeout)}}
        channels: {history: 20}
        listeners:
          - {name: http, address: "127.0.0.1:0", http2: {h2c: true}}
        hosts:
          - default: true
            routes:
              - match: {path: /ws/:channel}
                websocket: {}
              - match: {path: /events/:channel}
                sse: {}
        """
    }

    static func withInstances<T>(
        _ count: Int, redis: RedisServer, commandTimeout: String = "1s", _ body: ([TestServer]) async throws -> T
    ) async throws -> T {
        try await withTestServers(count, yaml(redis: redis.port, prefix: "w\(UUID().uuidString.prefix(8))", commandTimeout: commandTimeout), body)
    }

    @Test func aMessagePublishedOnOneInstanceReachesSubscribersOnAllInOrder() async throws {
        let redis = try await RedisServer()
        try await Self.withInstances(3, redis: redis) { s in
            let listeners = try s.map { try WebSocketPeer("ws://127.0.0.1:\($0.port)/ws/room", ["--hold"]) }
            for (i, l) in listeners.enumerated() {
                try await l.wait(for: "open")
                try await WebSocketChannelTests.waitForSubscribers(s[i], "room", 1)
            }
            let sends = (1...20).flatMap { ["--send", "m\($0)"] }
            let talker = try WebSocketPeer("ws://127.0.0.1:\(s[0].port)/ws/room", sends + ["--expect", "20"])
            let expected = (1...20).map { "m\($0)" }
            for l in listeners {
                let got = try await l.waitForMessages(20)
                #expect(got == expected, "\(got)")
            }
            let own = try await talker.waitForMessages(20)
            #expect(own == expected, "\(own)")
            #expect(s[0].app.channels.stats.publishedLocalOnly.load(ordering: .relaxed) == 0, "all went through Redis")
            // The fan-out latency was measured on the instances that did not publish.
            #expect(s[2].app.channels.stats.latencyCount.load(ordering: .relaxed) >= 20)
        }
    }

    @Test func anSSEClientResumesOnAnotherInstance() async throws {
        let redis = try await RedisServer()
        try await Self.withInstances(2, redis: redis) { s in
            var ids: [String] = []
            for text in ["a", "b", "c"] {
                let r = try await WebSocketChannelTests.publish(s[0], "feed", text)
                #expect(r.text.contains("\"scope\":\"cluster\""), "\(r.text)")
                ids.append(((try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])?["id"] as? String) ?? "")
            }
            // Instance B never saw these (nobody listened there): the history is Redis's.
            let c = try await s[1].client()
            try await c.send("GET /events/feed HTTP/1.1\r\nHost: a\r\nLast-Event-ID: \(ids[0])\r\n\r\n")
            _ = try await c.readResponse(head: true)
            let replay = String(decoding: await c.readUntil { String(decoding: $0, as: UTF8.self).contains("data: c") }, as: UTF8.self)
            let b = try #require(replay.range(of: "id: \(ids[1])\ndata: b\n\n"), "\(replay)")
            let c2 = try #require(replay.range(of: "id: \(ids[2])\ndata: c\n\n"), "\(replay)")
            #expect(b.upperBound <= c2.lowerBound, "in order")
            #expect(!replay.contains("data: a"), "not what the client had already")
            await c.close()
        }
    }

    @Test func losingRedisKeepsLocalDeliveryAndCrossInstanceComesBack() async throws {
        let redis = try await RedisServer()
        try await Self.withInstances(2, redis: redis) { s in
            let local = try WebSocketPeer("ws://127.0.0.1:\(s[0].port)/ws/r", ["--hold"])
            let remote = try WebSocketPeer("ws://127.0.0.1:\(s[1].port)/ws/r", ["--hold"])
            try await local.wait(for: "open")
            try await remote.wait(for: "open")
            try await WebSocketChannelTests.waitForSubscribers(s[0], "r", 1)
            try await WebSocketChannelTests.waitForSubscribers(s[1], "r", 1)
            _ = try await WebSocketChannelTests.publish(s[0], "r", "before")
            #expect(try await remote.waitForMessages(1) == ["before"])
            redis.stop()
            try await waitUntil(timeout: .seconds(10)) { s[0].app.shared?.client.isDegraded == true }
            let during = try await WebSocketChannelTests.publish(s[0], "r", "during")
            #expect(during.status == 202 && during.text.contains("\"scope\":\"instance\""), "\(during.text)")
            #expect(try await local.waitForMessages(2) == ["before", "during"], "local subscribers still get it")
            try await redis.start()
            try await waitUntil(timeout: .seconds(20)) {
                let subscribed = await s[1].app.shared?.client.subscribedChannels() ?? []
                return s[0].app.shared?.client.isDegraded == false && s[1].app.shared?.client.isDegraded == false && !subscribed.isEmpty
            }
            _ = try await WebSocketChannelTests.publish(s[0], "r", "after")
            #expect(try await remote.waitForMessages(2) == ["before", "after"], "across instances again once Redis is back")
            #expect(try await local.waitForMessages(3) == ["before", "during", "after"])
        }
    }

    /// A Redis call that times out may still run once Redis gets to it: the message was delivered here as a fallback,
    /// and Redis's copy, coming back later, must not be delivered again.
    @Test func aPublishThatTimedOutButRanIsDeliveredOnce() async throws {
        let redis = try await RedisServer()
        try await Self.withInstances(1, redis: redis, commandTimeout: "200ms") { s in
            let peer = try WebSocketPeer("ws://127.0.0.1:\(s[0].port)/ws/once", ["--hold"])
            try await peer.wait(for: "open")
            try await WebSocketChannelTests.waitForSubscribers(s[0], "once", 1)
            // The script is loaded first (a NOSCRIPT answer arriving after the timeout would run nothing).
            _ = try await WebSocketChannelTests.publish(s[0], "once", "warm")
            #expect(try await peer.waitForMessages(1) == ["warm"])
            // Redis holds every write (scripts included) for 1.5 s, then runs them.
            try await redis.cli("CLIENT", "PAUSE", "1500", "WRITE")
            let first = try await WebSocketChannelTests.publish(s[0], "once", "first")
            #expect(first.text.contains("\"scope\":\"instance\""), "the call timed out: delivered here \(first.text)")
            #expect(try await peer.waitForMessages(2) == ["warm", "first"])
            // Publish through Redis again (each try while Redis is still paused is delivered here once, as "first" was),
            // then a marker: Redis's copies of the paused calls come back before the marker does.
            var seconds = 0
            while true {
                let second = try await WebSocketChannelTests.publish(s[0], "once", "second")
                seconds += 1
                if second.text.contains("\"scope\":\"cluster\"") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let marker = try await WebSocketChannelTests.publish(s[0], "once", "marker")
            #expect(marker.text.contains("\"scope\":\"cluster\""))
            try await waitUntil { peer.messages.last == "marker" }
            let got = peer.messages
            #expect(got.filter { $0 == "first" }.count == 1, "\(got)")
            #expect(got.filter { $0 == "second" }.count == seconds, "\(got)")
            #expect(got.count == 3 + seconds, "\(got)")
        }
    }

    @Test func aWebSocketOverHTTP2ExtendedConnect() async throws {
        let redis = try await RedisServer()
        try await Self.withInstances(1, redis: redis) { s in
            let listener = try WebSocketPeer("ws://127.0.0.1:\(s[0].port)/ws/h2", ["--hold"])
            try await listener.wait(for: "open")
            try await WebSocketChannelTests.waitForSubscribers(s[0], "h2", 1)
            let c = try await RawClient.connect(port: s[0].port)
            let connect = H2.frame(
                .headers, flags: H2.Flags.endHeaders, stream: 1,
                H2.hpack([
                    (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", "/ws/h2"), (":authority", "a"),
                    ("sec-websocket-version", "13"),
                ])
            )
            try await c.send(bytes: H2.clientStart + H2.frame(.settings, flags: H2.Flags.ack, stream: 0) + connect)
            var reader = H2HeaderReader()
            let opened = try await collectFrames(c) { (try? reader.headers($0).contains { $0.stream == 1 }) == true }
            var check = H2HeaderReader()
            let status = try check.headers(opened).first { $0.stream == 1 }?.fields.first { $0.0 == ":status" }?.1
            #expect(status == "200", "RFC 8441 §5: a 2xx opens the tunnel")
            try await WebSocketChannelTests.waitForSubscribers(s[0], "h2", 2)
            try await c.send(bytes: H2.frame(.data, stream: 1, WSWire.text("over h2")))
            #expect(try await listener.waitForMessages(1) == ["over h2"])
            // The HTTP/2 client hears it too, as a WebSocket frame inside DATA.
            let frames = try await collectFrames(c) { WSWire.parse(H2.dataBytes($0, stream: 1)).contains { $0.text == "over h2" } }
            #expect(WSWire.parse(H2.dataBytes(frames, stream: 1)).contains { $0.opcode == 1 && $0.text == "over h2" })
            await c.close()
        }
    }
}

extension H2 {
    static func dataBytes(_ frames: [Frame], stream: UInt32) -> [UInt8] {
        frames.filter { $0.type == FrameType.data.rawValue && $0.stream == stream }.flatMap(\.payload)
    }
}
