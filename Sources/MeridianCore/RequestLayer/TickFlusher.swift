public import NIOCore
internal import NIOPosix

/// Flushes channels once the event loop has handled the I/O events it woke for, instead of at once: what a loop
/// writes while it works through one `epoll_wait`'s events leaves in a burst at the end.
///
/// Every write to a socket whose reader sleeps on another core wakes that core (an inter-processor interrupt; on a
/// VM an exit to the hypervisor). A proxy writes inside the upstream's read events, a response here and a request
/// there; flushed at once, the writes of one batch are spread over its whole length, and the peers' threads fall
/// asleep between them and are woken again for each. Flushed together, one wake-up serves the burst. A flush
/// waits at most for the rest of the batch (NIO runs the loop's tasks right after its I/O events).
///
/// One per event-loop thread; confined to it, which makes the unchecked `Sendable` safe. Off its loop, the static
/// ``flush(_:)`` flushes at once; a handler that keeps its loop's flusher (``of(_:)``) calls ``flushSoon(_:)`` on the
/// loop only.
public final class TickFlusher: @unchecked Sendable {
    private let eventLoop: any EventLoop
    private var channels: [any Channel] = []
    private var scheduled = false

    private init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        channels.reserveCapacity(64)
    }

    private static let perThread = ThreadSpecificVariable<TickFlusher>()

    /// Flushes `channel` at the end of the loop's current batch of work (now, when called off its loop).
    public static func flush(_ channel: any Channel) {
        let eventLoop = channel.eventLoop
        guard eventLoop.inEventLoop else {
            channel.flush()
            return
        }
        current(eventLoop).add(channel)
    }

    /// The flusher of `eventLoop`, for a handler on that loop to keep and call ``flushSoon(_:)`` on: no thread-local
    /// lookup and no loop check per flush. Call it on `eventLoop`.
    public static func of(_ eventLoop: any EventLoop) -> TickFlusher {
        eventLoop.preconditionInEventLoop()
        return current(eventLoop)
    }

    /// This thread's flusher, made for `eventLoop` (the caller is on it).
    private static func current(_ eventLoop: any EventLoop) -> TickFlusher {
        if let current = perThread.currentValue, current.eventLoop === eventLoop { return current }
        let flusher = TickFlusher(eventLoop)
        perThread.currentValue = flusher
        return flusher
    }

    /// Flushes `channel` (one of this flusher's loop) at the end of the loop's current batch. Call it on the loop.
    public func flushSoon(_ channel: any Channel) {
        eventLoop.assertInEventLoop()
        add(channel)
    }

    private func add(_ channel: any Channel) {
        channels.append(channel)
        guard !scheduled else { return }
        scheduled = true
        eventLoop.execute { [self] in run() }
    }

    private func run() {
        scheduled = false
        // A flush can complete writes whose callbacks flush again: they are added for the next turn.
        let due = channels
        channels.removeAll(keepingCapacity: true)
        for channel in due { channel.flush() }
    }
}
