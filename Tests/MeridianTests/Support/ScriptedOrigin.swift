import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP/1.1 origin on a random loopback port whose answers a test scripts per request: status, fields, body,
/// a delay before the head, a body sent in pieces. Counts what it was asked (the cache tests' "the origin saw exactly
/// one request").
final class ScriptedOrigin: @unchecked Sendable {
    struct Reply: Sendable {
        var status = 200
        var headers: [(String, String)] = []
        var body = ""
        /// Milliseconds before the head goes out.
        var delay = 0
        /// The body in this many pieces, `pieceDelay` ms apart, chunked (no Content-Length).
        var pieces = 0
        var pieceDelay = 0

        init(status: Int = 200, headers: [(String, String)] = [], body: String = "", delay: Int = 0) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delay = delay
        }
    }

    struct Seen: Sendable {
        var method: String
        var uri: String
        var headers: [(String, String)]
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
    }

    let channel: any Channel
    let group: any EventLoopGroup
    private let script: NIOLockedValueBox<@Sendable (Seen) -> Reply>
    private let seenBox = NIOLockedValueBox<[Seen]>([])

    var port: Int { channel.localAddress!.port! }
    var address: String { "127.0.0.1:\(port)" }
    var seen: [Seen] { seenBox.withLockedValue { $0 } }
    var requests: Int { seenBox.withLockedValue { $0.count } }
    func requests(to path: String) -> Int { seenBox.withLockedValue { $0.filter { $0.uri == path }.count } }

    func answer(_ script: @escaping @Sendable (Seen) -> Reply) { self.script.withLockedValue { $0 = script } }
    func resetCounts() { seenBox.withLockedValue { $0 = [] } }

    private init(channel: any Channel, group: any EventLoopGroup, script: NIOLockedValueBox<@Sendable (Seen) -> Reply>) {
        self.channel = channel
        self.group = group
        self.script = script
    }

    static func start(group: any EventLoopGroup, _ script: @escaping @Sendable (Seen) -> Reply) async throws -> ScriptedOrigin {
        let box = NIOLockedValueBox<@Sendable (Seen) -> Reply>(script)
        let seen = NIOLockedValueBox<ScriptedOrigin?>(nil)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try channel.pipeline.syncOperations.addHandler(Handler(origin: { seen.withLockedValue { $0 }! }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let origin = ScriptedOrigin(channel: channel, group: group, script: box)
        seen.withLockedValue { $0 = origin }
        return origin
    }

    func stop() async { try? await channel.close() }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        let origin: () -> ScriptedOrigin
        var head: HTTPRequestHead?
        init(origin: @escaping () -> ScriptedOrigin) { self.origin = origin }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h): head = h
            case .body: break
            case .end:
                guard let h = head else { return }
                head = nil
                let o = origin()
                let seen = Seen(method: h.method.rawValue, uri: h.uri, headers: h.headers.map { ($0.name, $0.value) })
                o.seenBox.withLockedValue { $0.append(seen) }
                let reply = o.script.withLockedValue { $0 }(seen)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                if reply.delay > 0 {
                    context.eventLoop.scheduleTask(in: .milliseconds(Int64(reply.delay))) { Self.send(reply, head: h, bound.value) }
                } else {
                    Self.send(reply, head: h, context)
                }
            }
        }

        static func send(_ reply: Reply, head: HTTPRequestHead, _ context: ChannelHandlerContext) {
            var text = "HTTP/1.1 \(reply.status) X\r\n"
            for (n, v) in reply.headers { text += "\(n): \(v)\r\n" }
            let noBody = head.method == .HEAD || reply.status == 304 || reply.status == 204
            if reply.pieces > 0 && !noBody {
                text += "transfer-encoding: chunked\r\n\r\n"
                context.writeAndFlush(NIOAny(ByteBuffer(string: text)), promise: nil)
                let bytes = Array(reply.body.utf8)
                let size = max(1, (bytes.count + reply.pieces - 1) / reply.pieces)
                let chunks = stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min(bytes.count, $0 + size)]) }
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                func piece(_ i: Int) {
                    let c = bound.value
                    if i == chunks.count {
                        c.writeAndFlush(NIOAny(ByteBuffer(string: "0\r\n\r\n")), promise: nil)
                        return
                    }
                    var b = ByteBuffer(string: String(chunks[i].count, radix: 16) + "\r\n")
                    b.writeBytes(chunks[i])
                    b.writeString("\r\n")
                    c.writeAndFlush(NIOAny(b), promise: nil)
                    c.eventLoop.scheduleTask(in: .milliseconds(Int64(reply.pieceDelay))) { piece(i + 1) }
                }
                piece(0)
                return
            }
            text += "content-length: \(reply.body.utf8.count)\r\n\r\n"
            if !noBody { text += reply.body }
            context.writeAndFlush(NIOAny(ByteBuffer(string: text)), promise: nil)
        }
    }
}

/// Starts an origin for `body` and stops it (awaited) however `body` ends.
func withOrigin<T>(_ script: @escaping @Sendable (ScriptedOrigin.Seen) -> ScriptedOrigin.Reply, _ body: (ScriptedOrigin) async throws -> T) async throws -> T {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let origin = try await ScriptedOrigin.start(group: group, script)
    let result: Result<T, any Error>
    do { result = .success(try await body(origin)) } catch { result = .failure(error) }
    await origin.stop()
    try? await group.shutdownGracefully()
    return try result.get()
}
