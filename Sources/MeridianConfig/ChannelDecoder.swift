internal import Yams

/// Decodes `channels:` and the `websocket:` and `sse:` route actions.
struct ChannelDecoder {
    let reader: ConfigReader

    func channels(_ node: Node) -> Configuration.Channels {
        var c = Configuration.Channels()
        guard let m = reader.mapping(node, "channels", allowed: ["history", "history_ttl", "max_publish_size", "redis_prefix"]) else { return c }
        if let n = m["history"], let v = reader.int(n, "channels.history", range: 0...100_000) { c.history = v }
        if let n = m["history_ttl"], let v = reader.duration(n, "channels.history_ttl", range: .seconds(1)...(.seconds(7 * 86400))) {
            c.historyTTL = v
        }
        if let n = m["max_publish_size"], let v = reader.size(n, "channels.max_publish_size", range: 1...(64 << 20)) { c.maxPublishBytes = v }
        if let n = m["redis_prefix"], let v = reader.string(n, "channels.redis_prefix") { c.redisPrefix = v }
        return c
    }

    func websocket(_ node: Node, _ path: String, match: Configuration.Match?) -> Configuration.WebSocketAction? {
        let keys = [
            "channel", "publish", "origins", "max_frame_size", "max_message_size", "ping_interval", "ping_timeout",
            "queue_messages", "queue_size", "slow_consumer", "deflate", "deflate_level", "deflate_no_context_takeover",
        ]
        guard let m = reader.mapping(node, path, allowed: keys) else { return nil }
        var a = Configuration.WebSocketAction()
        if let n = m["channel"], let v = channel(n, "\(path).channel", match: match) { a.channel = v } else if m["channel"] == nil {
            guard defaultChannelParameterExists(node, path, match: match) else { return nil }
        }
        if let n = m["publish"], let v = reader.bool(n, "\(path).publish") { a.publish = v }
        if let n = m["origins"], let v = reader.strings(n, "\(path).origins") {
            a.origins = v
            for origin in v where !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) || origin.hasSuffix("/") {
                reader.error(n, "\(path).origins", "'\(origin)' is not an origin; give scheme://host[:port] with no path, like https://app.example")
            }
        }
        if let n = m["max_frame_size"], let v = reader.size(n, "\(path).max_frame_size", range: 125...(64 << 20)) { a.maxFrameBytes = v }
        if let n = m["max_message_size"], let v = reader.size(n, "\(path).max_message_size", range: 125...(64 << 20)) { a.maxMessageBytes = v }
        if let n = m["ping_interval"], let v = reader.duration(n, "\(path).ping_interval", range: .milliseconds(100)...(.seconds(3600))) {
            a.pingInterval = v
        }
        if let n = m["ping_timeout"], let v = reader.duration(n, "\(path).ping_timeout", range: .milliseconds(100)...(.seconds(3600))) {
            a.pingTimeout = v
        }
        if let n = m["queue_messages"], let v = reader.int(n, "\(path).queue_messages", range: 1...1_000_000) { a.queueMessages = v }
        if let n = m["queue_size"], let v = reader.size(n, "\(path).queue_size", range: 1024...(1 << 30)) { a.queueBytes = v }
        if let n = m["slow_consumer"], let v = reader.choice(n, "\(path).slow_consumer", as: Configuration.SlowConsumer.self) {
            a.slowConsumer = v
        }
        if let n = m["deflate"], let v = reader.bool(n, "\(path).deflate") { a.deflate = v }
        if let n = m["deflate_level"], let v = reader.int(n, "\(path).deflate_level", range: 1...9) { a.deflateLevel = v }
        if let n = m["deflate_no_context_takeover"], let v = reader.bool(n, "\(path).deflate_no_context_takeover") {
            a.deflateNoContextTakeover = v
        }
        if a.maxMessageBytes < a.maxFrameBytes { a.maxFrameBytes = a.maxMessageBytes }
        return a
    }

    func sse(_ node: Node, _ path: String, match: Configuration.Match?) -> Configuration.SSEAction? {
        let keys = ["channel", "keepalive", "retry", "queue_messages", "queue_size", "slow_consumer"]
        guard let m = reader.mapping(node, path, allowed: keys) else { return nil }
        var a = Configuration.SSEAction()
        if let n = m["channel"], let v = channel(n, "\(path).channel", match: match) { a.channel = v } else if m["channel"] == nil {
            guard defaultChannelParameterExists(node, path, match: match) else { return nil }
        }
        if let n = m["keepalive"], let v = reader.duration(n, "\(path).keepalive", range: .milliseconds(100)...(.seconds(3600))) { a.keepAlive = v }
        if let n = m["retry"], let v = reader.duration(n, "\(path).retry", range: .zero...(.seconds(3600))) { a.retry = v }
        if let n = m["queue_messages"], let v = reader.int(n, "\(path).queue_messages", range: 1...1_000_000) { a.queueMessages = v }
        if let n = m["queue_size"], let v = reader.size(n, "\(path).queue_size", range: 1024...(1 << 30)) { a.queueBytes = v }
        if let n = m["slow_consumer"], let v = reader.choice(n, "\(path).slow_consumer", as: Configuration.SlowConsumer.self) {
            a.slowConsumer = v
        }
        return a
    }

    /// A route parameter of the match's path pattern, or `=name` for a fixed channel.
    private func channel(_ node: Node, _ path: String, match: Configuration.Match?) -> String? {
        guard let v = reader.string(node, path) else { return nil }
        if v.hasPrefix("=") {
            guard v.count > 1 else {
                reader.error(node, path, "'=' needs a channel name after it, like =news")
                return nil
            }
            return v
        }
        let name = v.hasPrefix(":") ? String(v.dropFirst()) : v
        guard let match, parameters(of: match).contains(name) else {
            reader.error(node, path, "'\(v)' is not a parameter of the route's path; use a path like /ws/:\(name), or a fixed channel like =news")
            return nil
        }
        return name
    }

    private func defaultChannelParameterExists(_ node: Node, _ path: String, match: Configuration.Match?) -> Bool {
        guard let match else { return false }
        if parameters(of: match).contains("channel") { return true }
        reader.error(node, "\(path).channel", "missing; the route's path has no :channel parameter, so name one (channel: room) or a fixed channel (channel: =news)")
        return false
    }

    private func parameters(of match: Configuration.Match) -> [String] {
        guard case .pattern(let pattern) = match.path else { return [] }
        return pattern.split(separator: "/").filter { $0.hasPrefix(":") }.map { String($0.dropFirst()) }
    }
}
