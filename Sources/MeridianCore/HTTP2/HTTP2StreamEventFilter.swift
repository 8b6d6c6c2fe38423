internal import NIOCore
internal import NIOHTTP2

/// Sits between `NIOHTTP2Handler` and the connection manager and passes on only the stream events
/// someone behind it acts on; each event costs a dynamic cast in every handler it passes.
/// - Without stream channels, `NIOHTTP2Handler` reports a stream closed by a stream error (say, a
///   malformed header block answered with RST_STREAM) although it never reported it created; the
///   manager counts open streams from these events and must only see closes of streams it saw
///   open.
/// - `NIOHTTP2Handler` emits one or two window events for every DATA frame sent or received and
///   for every stream closed. Nobody reads the stream-level ones; `HTTP2ConnectionHandler` acts on
///   the connection window only once it falls below half its target, and is called with its size
///   directly, as for stream closes; a shrinking connection outbound window (DATA sent) only
///   bumps its progress count. The connection manager behind sees created and closed
///   streams (its idle timer, the last stream id of its GOAWAY) and everything else.
final class HTTP2StreamEventFilter: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    private var open: Set<HTTP2StreamID> = []
    private var outboundWindow: Int?
    /// The handler behind the manager, set when the pipeline is built (no cycle: it does not
    /// refer back).
    var streams: HTTP2ConnectionHandler?

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let created as NIOHTTP2StreamCreatedEvent:
            open.insert(created.streamID)
        case let closed as StreamClosedEvent:
            guard open.remove(closed.streamID) != nil else { return }
            streams?.streamClosed(closed.streamID)
        case let window as NIOHTTP2WindowUpdatedEvent:
            guard window.streamID == .rootStream else { return }
            if let size = window.inboundWindowSize { streams?.connectionWindowChanged(size) }
            if let size = window.outboundWindowSize {
                if let last = outboundWindow, size < last { streams?.connectionSentData() }
                outboundWindow = size
            }
            return
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }
}
