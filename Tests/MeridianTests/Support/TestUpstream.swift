import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP/1.1 upstream on a random loopback port, for the proxy tests. NIO's request decoder
/// reads requests; answers are raw bytes, so a test can send what no well-behaved server would.
/// What it does depends on the path:
///
/// - `/echo…` (anything not listed): 200 with `x-upstream: NAME` and a body listing the method,
///   target, each header as `name: value`, and `body-bytes: N`.
/// - `/status/NNN`: that status, `x-upstream` set, body `NAME NNN`.
/// - `/slow/MS`: the echo answer after MS milliseconds.
/// - `/never`: reads the request and never answers.
/// - `/reset`: closes with RST (SO_LINGER 0) as soon as the head arrives.
/// - `/close-early`: closes (FIN) without a byte.
/// - `/malformed/both`: Content-Length and Transfer-Encoding together; `/malformed/garbage`: not
///   HTTP; `/malformed/huge-head`: a 100 KiB header.
/// - `/cut`: declares 100 bytes, sends 10, closes.
/// - `/sse/N/MS`: N server-sent events, MS milliseconds apart, chunked.
/// - `/bytes/N`: N bytes of body (Content-Length), written as the socket takes them.
/// - `/chunked/N`: N bytes, chunked, in 16 KiB chunks.
/// - `/stall`: declares 100,000 bytes, sends 10, then nothing (keeps the connection).
/// - `/trailers`: a chunked body `hello` with the trailer `x-checksum: abc`.
final class TestUpstream: @unchecked Sendable {
    let name: String
    let channel: any Channel
    let group: any EventLoopGroup
    let stats = NIOLockedValueBox(Stats())
    /// When set, every request is answered with this status (a failing endpoint); `0` resets the
    /// connection instead.
    let failure = NIOLockedValueBox<Int?>(nil)

    struct Stats {
        var requests = 0
        var connections = 0
        var closedConnections = 0
        var paths: [String] = []
        var lastHeaders: [(String, String)] = []
    }

    var port: Int { channel.localAddress!.port! }
    var address: String { "127.0.0.1:\(port)" }
    var requests: Int { stats.withLockedValue { $0.requests } }
    var connections: Int { stats.withLockedValue { $0.connections } }

    static func start(name: String, group: any EventLoopGroup) async throws -> TestUpstream {
        let box = NIOLockedValueBox<TestUpstream?>(nil)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upstream = box.withLockedValue { $0 }!
                    upstream.stats.withLockedValue { $0.connections += 1 }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try channel.pipeline.syncOperations.addHandler(Handler(upstream: upstream))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let upstream = TestUpstream(name: name, channel: channel, group: group)
        box.withLockedValue { $0 = upstream }
        return upstream
    }

    private init(name: String, channel: any Channel, group: any EventLoopGroup) {
        self.name = name
        self.channel = channel
        self.group = group
    }

    func stop() async {
        try? await channel.close()
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        let upstream: TestUpstream
        var head: HTTPRequestHead?
        var bodyBytes = 0

        init(upstream: TestUpstream) { self.upstream = upstream }

        func channelInactive(context: ChannelHandlerContext) {
            upstream.stats.withLockedValue { $0.closedConnections += 1 }
        }

        /// The proxy went away (EOF): close, as servers do.
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                bodyBytes = 0
                upstream.stats.withLockedValue {
                    $0.requests += 1
                    $0.paths.append(h.uri)
                    $0.lastHeaders = h.headers.map { ($0.name, $0.value) }
                }
                if h.uri == "/reset" {
                    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                    if let provider = try? context.channel.syncOptions?.getOption(.socketOption(.so_reuseaddr)), provider >= 0,
                        let options = context.channel as? any SocketOptionProvider
                    {
                        options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in bound.value.close(promise: nil) }
                    } else {
                        context.close(promise: nil)
                    }
                    head = nil
                } else if h.uri == "/close-early" {
                    context.close(promise: nil)
                    head = nil
                }
            case .body(let b):
                bodyBytes += b.readableBytes
            case .end:
                guard let head else { return }
                self.head = nil
                respond(head, context: context)
            }
        }

        func write(_ text: String, _ context: ChannelHandlerContext) {
            context.writeAndFlush(NIOAny(ByteBuffer(string: text)), promise: nil)
        }

        func echoBody(_ head: HTTPRequestHead) -> String {
            var body = "method: \(head.method.rawValue)\ntarget: \(head.uri)\n"
            for (n, v) in head.headers { body += "\(n.lowercased()): \(v)\n" }
            body += "body-bytes: \(bodyBytes)\n"
            return body
        }

        func respond(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
            if let status = upstream.failure.withLockedValue({ $0 }) {
                if status == 0 {
                    context.close(promise: nil)
                    return
                }
                let body = "\(upstream.name) \(status)"
                write("HTTP/1.1 \(status) X\r\nx-upstream: \(upstream.name)\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)", context)
                return
            }
            let parts = head.uri.split(separator: "?")[0].split(separator: "/").map(String.init)
            let name = upstream.name
            let close = head.headers["connection"].contains { $0.lowercased() == "close" }
            let conn = close ? "connection: close\r\n" : ""
            switch parts.first ?? "" {
            case "status":
                let code = Int(parts[1]) ?? 500
                let body = "\(name) \(code)"
                write("HTTP/1.1 \(code) X\r\nx-upstream: \(name)\r\ncontent-length: \(body.utf8.count)\r\n\(conn)\r\n\(body)", context)
            case "slow":
                let ms = Int64(parts[1]) ?? 100
                let text = echoBody(head)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .milliseconds(ms)) {
                    let context = bound.value
                    self.write("HTTP/1.1 200 OK\r\nx-upstream: \(name)\r\ncontent-length: \(text.utf8.count)\r\n\(conn)\r\n\(text)", context)
                }
            case "never":
                break
            case "stall":
                write("HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n0123456789", context)
            case "trailers":
                write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-checksum: abc\r\n\r\n", context)
            case "malformed":
                switch parts[1] {
                case "both": write("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", context)
                case "huge-head": write("HTTP/1.1 200 OK\r\nx-big: \(String(repeating: "a", count: 100 * 1024))\r\ncontent-length: 0\r\n\r\n", context)
                default: write("this is not http\r\n\r\n", context)
                }
            case "cut":
                write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789", context)
                context.close(promise: nil)
            case "sse":
                let count = Int(parts[1]) ?? 3
                let ms = Int64(parts[2]) ?? 100
                write("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n", context)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                for i in 0..<count {
                    context.eventLoop.scheduleTask(in: .milliseconds(ms * Int64(i + 1))) {
                        let event = "data: event \(i) at \(Int(Date().timeIntervalSince1970 * 1000))\n\n"
                        self.write(String(event.utf8.count, radix: 16) + "\r\n" + event + "\r\n", bound.value)
                        if i == count - 1 { self.write("0\r\n\r\n", bound.value) }
                    }
                }
            case "bytes", "chunked":
                let total = Int(parts[1]) ?? 0
                let chunked = parts[0] == "chunked"
                let framing = chunked ? "transfer-encoding: chunked" : "content-length: \(total)"
                write("HTTP/1.1 200 OK\r\nx-upstream: \(name)\r\n\(framing)\r\n\r\n", context)
                streamBytes(remaining: total, chunked: chunked, context: NIOLoopBound(context, eventLoop: context.eventLoop))
            default:
                let text = echoBody(head)
                write("HTTP/1.1 200 OK\r\nx-upstream: \(name)\r\ncontent-length: \(text.utf8.count)\r\n\(conn)\r\n\(text)", context)
            }
        }

        /// Writes 16 KiB at a time, the next once the last has left: the upstream itself never
        /// holds more than a chunk, so memory seen in the proxy is the proxy's.
        func streamBytes(remaining: Int, chunked: Bool, context bound: NIOLoopBound<ChannelHandlerContext>) {
            let context = bound.value
            guard remaining > 0 else {
                if chunked { write("0\r\n\r\n", context) }
                return
            }
            let n = min(remaining, 16 * 1024)
            var buffer = context.channel.allocator.buffer(capacity: n + 16)
            if chunked { buffer.writeString(String(n, radix: 16) + "\r\n") }
            buffer.writeRepeatingByte(UInt8(ascii: "x"), count: n)
            if chunked { buffer.writeString("\r\n") }
            // Next turn of the loop, not inline: a write that completes at once would otherwise
            // recurse once per chunk.
            context.writeAndFlush(NIOAny(buffer)).whenSuccess {
                bound.value.eventLoop.execute { self.streamBytes(remaining: remaining - n, chunked: chunked, context: bound) }
            }
        }
    }
}

/// Starts `count` upstreams named u0, u1…, runs `body`, and stops them however it ends.
func withUpstreams<T>(_ count: Int, _ body: ([TestUpstream]) async throws -> T) async throws -> T {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    var upstreams: [TestUpstream] = []
    let result: Result<T, any Error>
    do {
        for i in 0..<count { upstreams.append(try await TestUpstream.start(name: "u\(i)", group: group)) }
        result = .success(try await body(upstreams))
    } catch {
        result = .failure(error)
    }
    for u in upstreams { await u.stop() }
    try? await group.shutdownGracefully()
    return try result.get()
}
