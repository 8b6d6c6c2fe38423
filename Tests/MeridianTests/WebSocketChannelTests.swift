import Foundation
import MeridianServer
import MeridianWebSocket
import NIOCore
import Testing

/// The `websocket` and `sse` actions on one instance, with real clients: Python's `websockets` for what a
/// browser-grade client does (permessage-deflate included), raw frames for the rules no library breaks.
/// The channel suites start a few dozen Python clients and push 24 MB through a slow reader: they run after the
/// main suite, on their own (`MERIDIAN_LARGE_TESTS=1`, as scripts/test.sh does), where that CPU cannot starve the
/// timing tests.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct WebSocketChannelTests {
    static let yaml = """
        channels: {history: 60}
        hosts:
          - default: true
            routes:
              - match: {path: /ws/:channel}
                websocket: {}
              - match: {path: /listen/:channel}
                websocket: {publish: false}
              - match: {path: /events/:channel}
                sse: {keepalive: 300ms, retry: 2s}
              - match: {path: /narrow/:channel}
                sse: {queue_messages: 2, slow_consumer: drop_oldest}
              - match: {path: /fixed}
                websocket: {channel: =lobby, origins: ["https://app.example"]}
              - match: {path: /small/:channel}
                websocket: {max_frame_size: 200, max_message_size: 300}
              - match: {path: /roomy/:channel}
                websocket: {queue_size: 64MiB}
              - match: {path: /quiet/:channel}
                websocket: {ping_interval: 200ms, ping_timeout: 1s}
              - match: {path: /patient/:channel}
                websocket: {ping_interval: 200ms, ping_timeout: 15s}
              - match: {path: /slow/:channel}
                websocket: {queue_messages: 4, queue_size: 64KiB}
        """

    static func publish(_ s: TestServer, _ channel: String, _ body: String, contentType: String = "text/plain") async throws -> TestResponse {
        try await RawClient.exchange(
            port: s.adminPort!,
            "POST /publish/\(channel) HTTP/1.1\r\nHost: a\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        )
    }

    static func waitForSubscribers(_ s: TestServer, _ channel: String, _ count: Int) async throws {
        try await waitUntil(timeout: .seconds(20)) { s.app.channels.subscriberCount(channel) >= count }
    }

    // MARK: - With a real client

    @Test func messagesReachEverySubscriberInOrderWithDeflate() async throws {
        try await withTestServer(Self.yaml) { s in
            let listener = try WebSocketPeer("ws://127.0.0.1:\(s.port)/ws/room", ["--hold"])
            let open = try await listener.wait(for: "open")
            #expect((open["extensions"] as? String)?.hasPrefix("permessage-deflate") == true, "\(open)")
            try await Self.waitForSubscribers(s, "room", 1)
            let long = String(repeating: "wörld ", count: 2000)
            let talker = try WebSocketPeer("ws://127.0.0.1:\(s.port)/ws/room", ["--send", "one", "--send", "two", "--send", long, "--expect", "3"])
            #expect(try await listener.waitForMessages(3) == ["one", "two", long])
            #expect(try await talker.waitForMessages(3) == ["one", "two", long], "the publisher is a subscriber too")
            #expect(try await talker.wait(for: "close")["code"] as? Int == 1000, "the close handshake is answered with the client's code")
            let route = s.app.channels.stats.allRoutes.first { $0.label == "/ws/:channel" }?.route
            #expect(route?.messagesIn.load(ordering: .relaxed) == 3)
        }
    }

    @Test func withoutDeflateAndListenOnlyRoutes() async throws {
        try await withTestServer(Self.yaml) { s in
            let listener = try WebSocketPeer("ws://127.0.0.1:\(s.port)/listen/news", ["--hold", "--no-deflate"])
            #expect(try await listener.wait(for: "open")["extensions"] as? String == "")
            try await Self.waitForSubscribers(s, "news", 1)
            let published = try await Self.publish(s, "news", "headline")
            #expect(published.status == 202)
            #expect(published.text.contains("\"scope\":\"instance\""), "\(published.text)")
            #expect(try await listener.waitForMessages(1) == ["headline"])
            // A listen-only route closes a client that talks with 1008.
            let talker = try WebSocketPeer("ws://127.0.0.1:\(s.port)/listen/news", ["--send", "hi", "--hold"])
            #expect(try await talker.wait(for: "close")["code"] as? Int == 1008)
        }
    }

    @Test func theOriginAllowListAndAFixedChannel() async throws {
        try await withTestServer(Self.yaml) { s in
            let refused = try WebSocketPeer("ws://127.0.0.1:\(s.port)/fixed", ["--origin", "https://evil.example"])
            #expect(try await refused.wait(for: "refused")["status"] as? Int == 403)
            let allowed = try WebSocketPeer("ws://127.0.0.1:\(s.port)/fixed", ["--origin", "https://app.example", "--hold"])
            try await allowed.wait(for: "open")
            try await Self.waitForSubscribers(s, "lobby", 1)
            _ = try await Self.publish(s, "lobby", "welcome")
            #expect(try await allowed.waitForMessages(1) == ["welcome"])
        }
    }

    // MARK: - Handshake and frame rules, by hand

    @Test func handshakesThatAreNotWebSocketsAreRefusedWithTheRightStatus() async throws {
        try await withTestServer(Self.yaml) { s in
            let plain = try await s.get("/ws/room")
            #expect(plain.status == 426)
            #expect(plain.header("sec-websocket-version") == "13")
            let badVersion = try await RawClient.exchange(
                port: s.port, "GET /ws/room HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: \(WSWire.key)\r\n\r\n"
            )
            #expect(badVersion.status == 426 && badVersion.header("sec-websocket-version") == "13")
            let badKey = try await RawClient.exchange(
                port: s.port, "GET /ws/room HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n"
            )
            #expect(badKey.status == 400)
            let (c, head) = try await RawClient.webSocket(port: s.port, path: "/ws/room")
            #expect(head.status == 101)
            #expect(head.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 §1.3's example")
            #expect(head.header("sec-websocket-extensions") == nil, "no offer, no extension")
            await c.close()
        }
    }

    /// Each rule a client can break, and the close code it earns (RFC 6455 §5, §7.4.1).
    @Test(arguments: [
        ("unmasked frame", WSWire.frame(0x1, Array("hi".utf8), mask: false), UInt16(1002)),
        ("reserved opcode", WSWire.frame(0x3, []), 1002),
        ("RSV1 without deflate", WSWire.frame(0x1, Array("hi".utf8), rsv: 4), 1002),
        ("fragmented ping", WSWire.frame(0x9, [], fin: false), 1002),
        ("continuation first", WSWire.frame(0x0, Array("x".utf8)), 1002),
        ("invalid UTF-8", WSWire.frame(0x1, [0xC3, 0x28]), 1007),
        ("overlong UTF-8", WSWire.frame(0x1, [0xC0, 0xAF]), 1007),
        ("frame over max_frame_size", WSWire.frame(0x2, [], declaredLength: 1 << 40), 1009),
        ("message over max_message_size", WSWire.frame(0x1, Array(repeating: 0x61, count: 150), fin: false) + WSWire.frame(0x0, Array(repeating: 0x61, count: 160)), 1009),
        ("close code 1005 on the wire", WSWire.close(1005), 1002),
        ("one-byte close payload", WSWire.frame(0x8, [0x03]), 1002),
    ])
    func aBrokenRuleClosesWithItsCode(_ name: String, _ bytes: [UInt8], _ code: UInt16) async throws {
        try await withTestServer(Self.yaml) { s in
            let (c, head) = try await RawClient.webSocket(port: s.port, path: "/small/rules")
            #expect(head.status == 101)
            try await c.send(bytes: bytes)
            let frames = await c.frames { $0.contains { $0.opcode == 0x8 } }
            #expect(frames.last?.closeCode == code, "\(name): \(frames)")
            #expect(await c.waitForClose(), "\(name): the server closes the connection after its close frame")
            await c.close()
        }
    }

    @Test func pingsAreAnsweredFragmentsAssembledAndTheCloseHandshakeEchoed() async throws {
        try await withTestServer(Self.yaml) { s in
            let (c, _) = try await RawClient.webSocket(port: s.port, path: "/ws/frag")
            try await Self.waitForSubscribers(s, "frag", 1)
            // A ping between the fragments of a message: answered at once, the message still assembled (§5.4).
            try await c.send(bytes: WSWire.text("hel", fin: false) + WSWire.frame(0x9, Array("p1".utf8)) + WSWire.frame(0x0, Array("lo".utf8)))
            let frames = await c.frames { f in f.contains { $0.opcode == 0x1 } && f.contains { $0.opcode == 0xA } }
            #expect(frames.first { $0.opcode == 0xA }?.text == "p1")
            #expect(frames.first { $0.opcode == 0x1 }?.text == "hello", "the client hears its own message: it is a subscriber")
            try await c.send(bytes: WSWire.close(4000, "bye"))
            let closing = await c.frames { $0.contains { $0.opcode == 0x8 } }
            #expect(closing.last?.closeCode == 4000)
            #expect(await c.waitForClose())
            try await waitUntil { s.app.channels.subscriberCount("frag") == 0 }
        }
    }

    @Test func aSilentClientIsPingedAndClosedWhenItDoesNotAnswer() async throws {
        try await withTestServer(Self.yaml) { s in
            let (c, _) = try await RawClient.webSocket(port: s.port, path: "/quiet/a")
            let pinged = await c.frames(timeout: .seconds(5)) { $0.contains { $0.opcode == 0x9 } }
            #expect(pinged.contains { $0.opcode == 0x9 }, "a ping after 200 ms of silence")
            #expect(await c.waitForClose(timeout: .seconds(10)), "no pong within 1 s: closed")
            // Answering takes the client no time, but a loaded test machine may not run this task for seconds.
            // Every ping read is answered, and only the frames read are consumed: dropping everything received
            // after the pong went out once dropped the next ping too, and the client waited for one that had come.
            let (answering, _) = try await RawClient.webSocket(port: s.port, path: "/patient/b")
            var answered = 0
            let until = ContinuousClock.now + .seconds(12)
            while answered < 3, ContinuousClock.now < until {
                let bytes = await answering.readUntil(timeout: .seconds(5)) { WSWire.parse($0).contains { $0.opcode == 0x9 } }
                let (frames, used) = WSWire.parseCounting(bytes)
                answering.consume(used)
                for frame in frames where frame.opcode == 0x9 {
                    try await answering.send(bytes: WSWire.frame(0xA, []))
                    answered += 1
                }
            }
            #expect(answered >= 3, "three pings seen and answered")
            #expect(!(await answering.waitForClose(timeout: .milliseconds(500))), "a client that answers stays")
            #expect(s.app.channels.subscriberCount("b") == 1)
            await answering.close()
        }
    }

    @Test func aSlowReaderIsClosedAndTheOthersGetEverything() async throws {
        try await withTestServer(Self.yaml) { s in
            let (slow, _) = try await RawClient.webSocket(port: s.port, path: "/slow/firehose")
            try await slow.stopReading()
            let fast = try WebSocketPeer("ws://127.0.0.1:\(s.port)/roomy/firehose", ["--hold", "--no-deflate", "--brief"])
            try await fast.wait(for: "open")
            try await Self.waitForSubscribers(s, "firehose", 2)
            // 24 MB: past what the kernel's socket buffers hold for a client that stopped reading.
            let chunk = String(repeating: "x", count: 600_000)
            for i in 0..<40 { _ = try await Self.publish(s, "firehose", "\(i) \(chunk)") }
            let route = s.app.channels.stats.allRoutes.first { $0.label == "/slow/:channel" }?.route
            try await waitUntil(timeout: .seconds(20)) { route?.closedSlow.load(ordering: .relaxed) == 1 }
            #expect(s.app.channels.subscriberCount("firehose") == 1)
            let got = try await fast.waitForMessages(40, timeout: .seconds(30))
            let numbers: [String] = got.map { message in String(message.prefix { $0 != " " }) }
            let expected: [String] = (0..<40).map { String($0) }
            #expect(numbers == expected, "in order, none lost")
            await slow.close()
        }
    }

    // MARK: - Server-sent events and the publish API

    @Test func sseStreamsTheChannelAndResumesFromLastEventID() async throws {
        try await withTestServer(Self.yaml) { s in
            let c = try await s.client()
            try await c.send("GET /events/feed HTTP/1.1\r\nHost: a\r\n\r\n")
            let head = try await c.readResponse(head: true)
            #expect(head.status == 200 && head.header("content-type")?.hasPrefix("text/event-stream") == true)
            try await Self.waitForSubscribers(s, "feed", 1)
            var ids: [String] = []
            for text in ["first", "two\nlines", "third"] {
                let r = try await Self.publish(s, "feed", text)
                let object = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
                ids.append(object?["id"] as? String ?? "")
            }
            let stream = String(decoding: await c.readUntil { String(decoding: $0, as: UTF8.self).contains("third") }, as: UTF8.self)
            #expect(stream.contains("retry: 2000\n"))
            #expect(stream.contains("id: \(ids[0])\ndata: first\n\n"))
            #expect(stream.contains("id: \(ids[1])\ndata: two\ndata: lines\n\n"), "each line its own data field")
            // The keep-alive comment after 300 ms of silence.
            let quiet = await c.readUntil(timeout: .seconds(3)) { String(decoding: $0, as: UTF8.self).contains(": keep-alive") }
            #expect(String(decoding: quiet, as: UTF8.self).contains(": keep-alive"))
            await c.close()

            // A browser reconnecting with the last id it saw gets the rest first.
            let again = try await s.client()
            try await again.send("GET /events/feed HTTP/1.1\r\nHost: a\r\nLast-Event-ID: \(ids[0])\r\n\r\n")
            _ = try await again.readResponse(head: true)
            let replay = String(decoding: await again.readUntil { String(decoding: $0, as: UTF8.self).contains("third") }, as: UTF8.self)
            #expect(!replay.contains("data: first"))
            #expect(replay.contains("id: \(ids[1])") && replay.contains("id: \(ids[2])\ndata: third"))
            await again.close()
        }
    }

    /// A replay longer than the client's queue goes out as the client takes it: nothing is dropped for it.
    @Test func aReplayLongerThanTheQueueArrivesWhole() async throws {
        try await withTestServer(Self.yaml) { s in
            var ids: [String] = []
            // 30 MB: more than the socket buffers hold while the client is not reading.
            let filler = String(repeating: "z", count: 600_000)
            for i in 0..<50 {
                let r = try await Self.publish(s, "long", "m\(i) " + filler)
                ids.append(((try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])?["id"] as? String) ?? "")
            }
            let c = try await s.client()
            try await c.send("GET /narrow/long HTTP/1.1\r\nHost: a\r\nLast-Event-ID: \(ids[0])\r\n\r\n")
            _ = try await c.readResponse(head: true)
            try await c.stopReading()
            try await Task.sleep(for: .seconds(1))  // the subject: a client that reads nothing for a while
            try await c.resumeReading()
            // Counting bytes, not decoding 30 MB on every read.
            let bytes = await c.readUntil(timeout: .seconds(20)) { $0.count >= 49 * 600_000 }
            let text = String(decoding: bytes, as: UTF8.self)
            for i in 1..<50 { #expect(text.contains("id: \(ids[i])\ndata: m\(i) "), "m\(i) missing") }
            #expect(!text.contains("data: m0 "))
            let route = s.app.channels.stats.allRoutes.first { $0.label == "/narrow/:channel" }?.route
            #expect(route?.dropped.load(ordering: .relaxed) == 0)
            await c.close()
        }
    }

    @Test func thePublishAPIRefusesWhatItCannotSend() async throws {
        try await withTestServer(Self.yaml) { s in
            let get = try await RawClient.exchange(port: s.adminPort!, "GET /publish/x HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(get.status == 405)
            let c = try await RawClient.connect(port: s.adminPort!)
            try await c.send(bytes: Array("POST /publish/x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n".utf8) + [0xFF, 0xFE])
            #expect(try await c.readResponse().status == 400, "text must be UTF-8")
            await c.close()
            let binary = try await Self.publish(s, "x", "any bytes", contentType: "application/octet-stream")
            #expect(binary.status == 202)
        }
    }

    // MARK: - Shutdown

    @Test func shutdownSends1001AndEndsEventStreams() async throws {
        let s = try await TestServer.start(Self.yaml + "\nlifecycle: {drain_delay: 0s}")
        let peer = try WebSocketPeer("ws://127.0.0.1:\(s.port)/ws/bye", ["--hold"])
        try await peer.wait(for: "open")
        let sse = try await s.client()
        try await sse.send("GET /events/bye HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = try await sse.readResponse(head: true)
        try await Self.waitForSubscribers(s, "bye", 2)
        let shutdown = Task { await s.app.shutdown(.graceful) }
        let close = try await peer.wait(for: "close")
        #expect(close["code"] as? Int == 1001, "\(close)")
        let end = await sse.readUntil { String(decoding: $0, as: UTF8.self).hasSuffix("0\r\n\r\n") }
        #expect(String(decoding: end, as: UTF8.self).hasSuffix("0\r\n\r\n"), "the chunked stream ends cleanly")
        _ = await shutdown.value
        await sse.close()
        try? FileManager.default.removeItem(at: s.directory)
    }
}
