internal import NIOCore

/// On a plaintext listener with `http2.h2c`, looks at the first bytes of a connection: the HTTP/2
/// connection preface (RFC 9113 §3.3, prior knowledge) switches it to HTTP/2, anything else to
/// HTTP/1.1. It reads only as far as it needs to decide, then replays what it read to the
/// protocol it chose and leaves the pipeline.
final class H2CPriorKnowledgeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    private var buffered: ByteBuffer?
    private let configureHTTP2: (any Channel) throws -> Void
    private let configureHTTP1: (any Channel) throws -> Void

    init(http2: @escaping (any Channel) throws -> Void, http1: @escaping (any Channel) throws -> Void) {
        self.configureHTTP2 = http2
        self.configureHTTP1 = http1
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil { buffered = incoming } else { buffered!.writeBuffer(&incoming) }
        let bytes = buffered!.readableBytesView
        let compared = min(bytes.count, Self.preface.count)
        let isPrefix = bytes.prefix(compared).elementsEqual(Self.preface.prefix(compared))
        guard !isPrefix || compared == Self.preface.count else { return }  // undecided: read more
        do {
            if isPrefix {
                try configureHTTP2(context.channel)
            } else {
                try configureHTTP1(context.channel)
            }
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        let replay = buffered!
        buffered = nil
        // Replay first: once removed, this context no longer forwards anything.
        context.fireChannelRead(wrapInboundOut(replay))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }
}
