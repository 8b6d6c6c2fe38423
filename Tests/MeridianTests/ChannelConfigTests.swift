import MeridianConfig
import Testing

/// `channels:` and the `websocket:` / `sse:` route actions: what decodes, and each mistake with file:line.
struct ChannelConfigTests {
    static func route(_ path: String, _ action: String) -> String {
        """
        hosts:
          - default: true
            routes:
              - match: {path: \(path)}
                \(action)
        """
    }

    @Test func actionsAndChannelsDecode() throws {
        let ws = try ConfigLoader.parse(
            yaml: "channels: {history: 5, history_ttl: 1m, max_publish_size: 64KiB, redis_prefix: \"chan:\"}\n" + Self.route(
                "/rooms/:room",
                "websocket: {channel: room, publish: false, origins: [\"https://a.example\"], max_frame_size: 4KiB, max_message_size: 16KiB, ping_interval: 10s, ping_timeout: 5s, queue_messages: 10, queue_size: 1MiB, slow_consumer: close_try_again, deflate: false, deflate_level: 3, deflate_no_context_takeover: true}"
            ), source: "t.yaml")
        #expect(ws.channels.history == 5 && ws.channels.historyTTL == .seconds(60) && ws.channels.maxPublishBytes == 64 << 10)
        #expect(ws.channels.redisPrefix == "chan:")
        guard case .websocket(let a) = ws.hosts[0].routes[0].action else {
            Issue.record("not a websocket action")
            return
        }
        #expect(a.channel == "room" && !a.publish && a.origins == ["https://a.example"] && a.maxFrameBytes == 4096 && a.maxMessageBytes == 16384)
        #expect(a.pingInterval == .seconds(10) && a.pingTimeout == .seconds(5) && a.queueMessages == 10 && a.queueBytes == 1 << 20)
        #expect(a.slowConsumer == .closeTryAgain && !a.deflate && a.deflateLevel == 3 && a.deflateNoContextTakeover)
        let sse = try ConfigLoader.parse(yaml: Self.route("/events/:channel", "sse: {keepalive: 5s, retry: 1s, slow_consumer: drop_oldest}"), source: "t.yaml")
        guard case .sse(let s) = sse.hosts[0].routes[0].action else {
            Issue.record("not an sse action")
            return
        }
        #expect(s.channel == "channel" && s.keepAlive == .seconds(5) && s.retry == .seconds(1) && s.slowConsumer == .dropOldest)
        let fixed = try ConfigLoader.parse(yaml: Self.route("/live", "sse: {channel: =news}"), source: "t.yaml")
        guard case .sse(let f) = fixed.hosts[0].routes[0].action else { return }
        #expect(f.channel == "=news")
    }

    @Test func channelMistakesAreClearErrors() {
        let cases: [(String, String)] = [
            (Self.route("/ws", "websocket: {}"), "test.yaml:5:20: hosts[0].routes[0].websocket.channel: missing; the route's path has no :channel parameter"),
            (Self.route("/ws/:room", "websocket: {channel: name}"), "'name' is not a parameter of the route's path"),
            (Self.route("/ws/:channel", "websocket: {origins: [\"app.example\"]}"), "'app.example' is not an origin"),
            (Self.route("/ws/:channel", "websocket: {slow_consumer: wait}"), "'wait' is not allowed; expected one of: close, close_try_again, drop_oldest"),
            (Self.route("/ws/:channel", "websocket: {max_frame_size: 10}"), "max_frame_size"),
            (Self.route("/ws/:channel", "websocket: {colour: red}"), "websocket.colour"),
            (Self.route("/e/:channel", "sse: {keepalive: never}"), "'never' is not a duration"),
            (Self.route("/e/:channel", "sse: {channel: \"=\"}"), "'=' needs a channel name"),
            ("channels: {history: -1}\n" + Self.route("/e/:channel", "sse: {}"), "channels.history"),
        ]
        for (yaml, expected) in cases {
            let errors = configErrors(yaml)
            #expect(errors.contains { $0.contains(expected) }, "\(expected) not in \(errors)")
        }
    }
}
