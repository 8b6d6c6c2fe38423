import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP relay on port 0 in front of a TLS server that counts the TLS records the server sends
/// (it reads only the 5-byte record headers; the bytes pass through untouched). What a test uses
/// to see how a server cuts its output into records, which no TLS client API shows.
final class TLSRecordCounter: Sendable {
    let port: Int
    private let channel: any Channel
    private let counts: NIOLockedValueBox<(records: Int, bytes: Int)>

    /// Records (and their payload bytes) the server has sent so far, over all relayed connections.
    var records: (records: Int, bytes: Int) { counts.withLockedValue { $0 } }

    static func start(upstreamPort: Int) async throws -> TLSRecordCounter {
        let counts = NIOLockedValueBox<(records: Int, bytes: Int)>((0, 0))
        let channel = try await ServerBootstrap(group: RawClient.group)
            .childChannelInitializer { inbound in
                inbound.setOption(.autoRead, value: false).flatMap {
                    ClientBootstrap(group: inbound.eventLoop)
                        .channelInitializer { outbound in
                            outbound.pipeline.addHandler(Relay(peer: inbound, counter: RecordParser(counts)))
                        }
                        .connect(host: "127.0.0.1", port: upstreamPort)
                }.flatMap { outbound in
                    inbound.pipeline.addHandler(Relay(peer: outbound, counter: nil)).flatMap {
                        inbound.setOption(.autoRead, value: true)
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TLSRecordCounter(channel: channel, counts: counts)
    }

    private init(channel: any Channel, counts: NIOLockedValueBox<(records: Int, bytes: Int)>) {
        self.channel = channel
        self.port = channel.localAddress!.port!
        self.counts = counts
    }

    func stop() async { try? await channel.close() }

    /// Follows record boundaries across reads: 5-byte header (type, version, length), then body.
    final class RecordParser: @unchecked Sendable {  // used on one channel's event loop
        private let counts: NIOLockedValueBox<(records: Int, bytes: Int)>
        private var header: [UInt8] = []
        private var bodyLeft = 0
        init(_ counts: NIOLockedValueBox<(records: Int, bytes: Int)>) { self.counts = counts }

        func feed(_ buffer: ByteBuffer) {
            var view = buffer.readableBytesView[...]
            while !view.isEmpty {
                if bodyLeft > 0 {
                    let n = min(bodyLeft, view.count)
                    bodyLeft -= n
                    view = view.dropFirst(n)
                    continue
                }
                header.append(view.first!)
                view = view.dropFirst()
                if header.count == 5 {
                    bodyLeft = Int(header[3]) << 8 | Int(header[4])
                    let length = bodyLeft
                    counts.withLockedValue { $0.records += 1; $0.bytes += length }
                    header.removeAll(keepingCapacity: true)
                }
            }
        }
    }

    /// Copies what one side reads to the other; closes the other when one closes.
    final class Relay: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let peer: any Channel
        let counter: RecordParser?
        init(peer: any Channel, counter: RecordParser?) {
            self.peer = peer
            self.counter = counter
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            counter?.feed(buffer)
            peer.writeAndFlush(buffer, promise: nil)
        }
        func channelInactive(context: ChannelHandlerContext) { peer.close(promise: nil) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}
