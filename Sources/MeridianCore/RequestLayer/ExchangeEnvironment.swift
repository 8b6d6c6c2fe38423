public import NIOCore

/// What every exchange on one connection shares: its services, event loop, allocator, the listener's extra response
/// headers and the loop's clock. Made once per connection by the protocol handler (at its first request); an exchange
/// keeps one reference to it instead of five fields of its own (`bench/cpu-per-request.sh MODE=counts`: two retains
/// and two releases fewer per proxied request).
public final class ExchangeEnvironment: Sendable {
    let services: ConnectionServices
    let eventLoop: any EventLoop
    let allocator: ByteBufferAllocator
    /// Added to every response (HSTS and the like).
    let extraHeaders: [(String, String)]
    /// The loop's clock when the protocol handler keeps one (the record's duration ends at its batch's time).
    let clock: LoopClock?

    public init(
        services: ConnectionServices, eventLoop: any EventLoop, allocator: ByteBufferAllocator, extraHeaders: [(String, String)],
        clock: LoopClock?
    ) {
        self.services = services
        self.eventLoop = eventLoop
        self.allocator = allocator
        self.extraHeaders = extraHeaders
        self.clock = clock
    }

    /// The environment of the connection `context` belongs to, as a protocol handler makes it in `handlerAdded`: the
    /// channel's loop and allocator (read once: `context.channel.allocator` retains the channel and asks the loop which
    /// thread it is on) and the loop's ``LoopClock``. Call it on the channel's event loop.
    public convenience init(context: ChannelHandlerContext, services: ConnectionServices, extraHeaders: [(String, String)]) {
        self.init(
            services: services, eventLoop: context.eventLoop, allocator: context.channel.allocator, extraHeaders: extraHeaders,
            clock: LoopClock.of(context.eventLoop)
        )
    }
}
