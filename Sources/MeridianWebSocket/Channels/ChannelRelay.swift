public import NIOCore

/// What carries channel messages between instances (Redis pub/sub with a capped stream per channel for
/// history). Without one, channels are local to the instance.
public protocol ChannelRelay: Sendable {
    /// Whether the shared path works now; false (Redis unreachable) makes the hub deliver locally.
    var isAvailable: Bool { get }
    /// Publishes to every instance, this one included (through `start`'s callback); the message's id.
    /// `token` travels with the message, so the hub can tell its own fallback copy from Redis's.
    func publish(
        channel: String, kind: ChannelMessage.Kind, payload: ByteBuffer, publishedAt: Int64, token: String, on eventLoop: any EventLoop
    ) -> EventLoopFuture<ChannelMessageID>
    /// The channel's kept messages after `id`, oldest first.
    func history(channel: String, after id: ChannelMessageID, on eventLoop: any EventLoop) -> EventLoopFuture<[ChannelMessage]>
    /// Starts hearing every instance's messages.
    func start(deliver: @escaping @Sendable (ChannelMessage) -> Void)
}
