// The least a SwiftNIO HTTP/1.1 reverse proxy can do per request: a floor under any proxy built on NIO's channels,
// measured beside Meridian and nginx by `TARGET=proxy bench/cpu-per-request.sh ceiling nginx BIN`.
// One event loop; a client connection's request head (GET, no body) is found by its blank line, a fixed head goes
// to the upstream on a kept-alive connection from the loop's pool, the response is framed by its Content-Length
// and its bytes go back to the client unchanged, in one write. No header parsing beyond that, no rewriting,
// routing, timeouts, limits, metrics or logs, and no error handling: a benchmark tool, not a server.
// Usage: NIOProxyCeiling LISTEN_PORT UPSTREAM_PORT [--lean | --lean-strings | --lean-objects | --lean-strings-objects]
//        (see Lean.swift)
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

// A script's background job starts with SIGINT ignored: stop on it (and on SIGTERM) explicitly.
signal(SIGINT) { _ in exit(0) }
signal(SIGTERM) { _ in exit(0) }

let args = CommandLine.arguments
let leanModes = ["--lean", "--lean-strings", "--lean-objects", "--lean-strings-objects"]
let lean = args.count == 4 && leanModes.contains(args[3])
guard args.count == 3 || lean, let listenPort = Int(args[1]), let upstreamPort = Int(args[2]) else {
    fatalError("usage: NIOProxyCeiling LISTEN_PORT UPSTREAM_PORT [\(leanModes.joined(separator: " | "))]")
}
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let loop = group.next()

final class Pool {
    var idle: [UpstreamHandler] = []
    let port: Int
    init(port: Int) { self.port = port }

    func acquire(_ done: @escaping (UpstreamHandler) -> Void) {
        if let h = idle.popLast() { return done(h) }
        connectUpstream(UpstreamHandler(pool: self), port: port, on: loop, then: done)
    }
}

/// A new keep-alive connection to the upstream on 127.0.0.1:`port` with `handler` in its pipeline; `done` gets the
/// handler once it is connected (both modes' pools).
func connectUpstream<Handler: ChannelHandler>(
    _ handler: Handler, port: Int, on loop: any EventLoop, then done: @escaping (Handler) -> Void
) {
    ClientBootstrap(group: loop)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(handler) } }
        .connect(host: "127.0.0.1", port: port)
        .assumeIsolatedUnsafeUnchecked()
        .whenSuccess { _ in done(handler) }
}

final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    unowned let pool: Pool
    var context: ChannelHandlerContext!
    var buffer: ByteBuffer?
    var client: ClientHandler?
    init(pool: Pool) { self.pool = pool }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func send(_ head: ByteBuffer, for client: ClientHandler) {
        self.client = client
        context.writeAndFlush(wrapOutboundOut(head), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffer == nil { buffer = bytes } else { buffer!.writeBuffer(&bytes) }
        guard let b = buffer, let total = Self.responseLength(b), b.readableBytes >= total else { return }
        buffer = nil
        let c = client!
        client = nil
        pool.idle.append(self)
        c.answer(b)
    }

    /// Head length + Content-Length, once the head is complete.
    static func responseLength(_ b: ByteBuffer) -> Int? {
        b.withUnsafeReadableBytes { raw -> Int? in
            let n = raw.count
            var i = 0
            var lineStart = 0
            var length = 0
            while i + 1 < n {
                if raw[i] == 13, raw[i + 1] == 10 {
                    if i == lineStart { return i + 2 + length }  // blank line: end of head
                    // "content-length:" in any case
                    if i - lineStart > 15, raw[lineStart] | 0x20 == UInt8(ascii: "c"), raw[lineStart + 8] | 0x20 == UInt8(ascii: "l"),
                        raw[lineStart + 14] == UInt8(ascii: ":")
                    {
                        var j = lineStart + 15
                        var v = 0
                        while j < i { if raw[j] >= 48 && raw[j] <= 57 { v = v * 10 + Int(raw[j] - 48) }; j += 1 }
                        length = v
                    }
                    i += 2
                    lineStart = i
                } else {
                    i += 1
                }
            }
            return nil
        }
    }
}

final class ClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let pool: Pool
    var context: ChannelHandlerContext!
    var buffer: ByteBuffer?
    init(pool: Pool) { self.pool = pool }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffer == nil { buffer = bytes } else { buffer!.writeBuffer(&bytes) }
        guard let b = buffer else { return }
        // The request line's target, once the head is complete.
        let found: (target: String, end: Int)? = b.withUnsafeReadableBytes { raw in
            var i = 3
            while i < raw.count {
                if raw[i] == 10, raw[i - 1] == 13, raw[i - 2] == 10, raw[i - 3] == 13 {
                    let sp1 = raw.firstIndex(of: 32)!
                    let sp2 = raw[(sp1 + 1)...].firstIndex(of: 32)!
                    return (String(decoding: raw[(sp1 + 1)..<sp2], as: UTF8.self), i + 1)
                }
                i += 1
            }
            return nil
        }
        guard let found else { return }
        buffer = nil
        var head = context.channel.allocator.buffer(capacity: 128)
        head.writeString("GET \(found.target) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        pool.acquire { upstream in upstream.send(head, for: self) }
    }

    func answer(_ response: ByteBuffer) {
        context.writeAndFlush(wrapOutboundOut(response), promise: nil)
    }
}

let pool = Pool(port: upstreamPort)
let leanState = LeanState(
    upstreamPort: upstreamPort, loop: loop, strings: lean && args[3].contains("strings"), objects: lean && args[3].contains("objects")
)
let server = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { ch in
        ch.eventLoop.makeCompletedFuture {
            if lean {
                try ch.pipeline.syncOperations.addHandler(LeanClientHandler(state: leanState))
            } else {
                try ch.pipeline.syncOperations.addHandler(ClientHandler(pool: pool))
            }
        }
    }
    .bind(host: "127.0.0.1", port: listenPort).wait()
print("listening on \(listenPort)")
try server.closeFuture.wait()
