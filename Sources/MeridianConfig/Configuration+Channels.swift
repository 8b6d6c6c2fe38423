extension Configuration {
    /// `channels:` at the top: what every WebSocket and SSE channel shares, on this instance and, with
    /// `redis:`, across the cluster.
    public struct Channels: Sendable, Equatable {
        /// Messages kept per channel so an SSE client that reconnects with `Last-Event-ID` misses nothing
        /// (0 keeps none). With Redis the history is a capped stream per channel, shared by every instance.
        public var history: Int = 100
        /// A channel nobody publishes to forgets its history after this long.
        public var historyTTL: Duration = .seconds(600)
        /// The largest message `POST /publish/:channel` on the admin listener takes.
        public var maxPublishBytes: Int = 1 << 20
        /// The Redis channel and key prefix (after `redis.key_prefix`).
        public var redisPrefix: String = "ch:"

        public init() {}
    }

    /// What a route's `websocket:` or `sse:` connection does when its client reads slower than the
    /// channel is published to.
    public enum SlowConsumer: String, Sendable, Equatable, CaseIterable {
        /// Close with 1008 (policy violation); SSE ends the stream.
        case close
        /// Close with 1013 (try again later), which asks a well-behaved client to back off.
        case closeTryAgain = "close_try_again"
        /// Drop the oldest queued message and count it (the client sees a gap; SSE clients can spot it by
        /// event id).
        case dropOldest = "drop_oldest"
    }

    /// `websocket:` on a route: RFC 6455 channels. A client on `/ws/:channel` subscribes to the channel
    /// named by the route's parameter and (when `publish` is on) publishes what it sends.
    public struct WebSocketAction: Sendable, Equatable {
        /// The route parameter that names the channel (`channel` for `/ws/:channel`), or a fixed name
        /// starting with `=` (`=news`).
        public var channel: String = "channel"
        /// Whether messages from clients are published to the channel (off: clients only listen).
        public var publish: Bool = true
        /// Allowed `Origin` values (`https://app.example`); empty allows any, as a non-browser API would.
        public var origins: [String] = []
        public var maxFrameBytes: Int = 1 << 20
        public var maxMessageBytes: Int = 1 << 20
        /// A ping is sent after this much silence from the client; no pong within `pingTimeout` closes
        /// the connection (1011 is not sent: the peer is gone).
        public var pingInterval: Duration = .seconds(30)
        public var pingTimeout: Duration = .seconds(15)
        /// Messages queued for one client past what its socket took; past it `slowConsumer` applies.
        public var queueMessages: Int = 256
        public var queueBytes: Int = 4 << 20
        public var slowConsumer: SlowConsumer = .close
        /// permessage-deflate (RFC 7692), when the client offers it.
        public var deflate: Bool = true
        public var deflateLevel: Int = 6
        /// Ask for `server_no_context_takeover`: less memory per connection, worse ratio.
        public var deflateNoContextTakeover: Bool = false

        public init() {}
    }

    /// `sse:` on a route: the same channels as server-sent events (`text/event-stream`), with
    /// `Last-Event-ID` resumption from the channel's history.
    public struct SSEAction: Sendable, Equatable {
        public var channel: String = "channel"
        /// A comment line after this much silence keeps proxies and load balancers from timing out.
        public var keepAlive: Duration = .seconds(15)
        /// The `retry:` the stream starts with (how long a browser waits before reconnecting).
        public var retry: Duration = .seconds(3)
        public var queueMessages: Int = 256
        public var queueBytes: Int = 4 << 20
        public var slowConsumer: SlowConsumer = .dropOldest

        public init() {}
    }
}
