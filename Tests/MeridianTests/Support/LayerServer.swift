import Logging
import MeridianConfig
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOPosix

@testable import MeridianCore

/// An in-process server whose routes are responders a test writes, on one plaintext listener that
/// takes HTTP/1.1 and HTTP/2 with prior knowledge: for request-layer tests that need a responder
/// no configuration can express (a slow body reader, an echo upgrade). Use ``withLayerServer``,
/// which stops and awaits the server however the test ends.
struct LayerServer {
    let group: MultiThreadedEventLoopGroup
    let pool: NIOThreadPool
    let services: ConnectionServices
    let server: HTTPServer
    let box: RuntimeBox
    let port: Int

    static func runtime(
        _ routes: [(String, any Responder)], limits: ServerLimits, timeouts: ServerTimeouts
    ) -> ServerRuntime {
        ServerRuntime(
            router: Router(hosts: [.init(names: [], isDefault: true, routes: routes.map { Router.Route(pattern: .prefix($0.0), responder: $0.1) })]),
            limits: limits, timeouts: timeouts, serverHeader: "meridian", generation: 1, logger: Logger(label: "layer-test")
        )
    }

    func counter(_ kind: String) -> Int {
        services.timeoutsByKind[ConnectionServices.timeoutKinds.firstIndex(of: kind)!].load(ordering: .relaxed)
    }
}

func withLayerServer<T>(
    _ routes: [(String, any Responder)], limits: ServerLimits = .init(), timeouts: ServerTimeouts = .init(),
    _ body: (LayerServer) async throws -> T
) async throws -> T {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let pool = NIOThreadPool(numberOfThreads: 2)
    pool.start()
    let services = ConnectionServices(threadPool: pool)
    let box = RuntimeBox(LayerServer.runtime(routes, limits: limits, timeouts: timeouts))
    let server = HTTPServer(group: group, runtimeBox: box, services: services, logger: Logger(label: "layer-test"))
    var listener = ListenerSettings(name: "h2c", host: "127.0.0.1", port: 0)
    listener.http2.h2c = true
    let result: Result<T, any Error>
    do {
        let port = try await server.start([listener])[0].address.port!
        let s = LayerServer(group: group, pool: pool, services: services, server: server, box: box, port: port)
        do { result = .success(try await body(s)) } catch { result = .failure(error) }
    } catch {
        result = .failure(error)
    }
    await server.stopAccepting()
    _ = await server.drain(deadline: .now() + .seconds(1))
    try await group.shutdownGracefully()
    try await pool.shutdownGracefully()
    return try result.get()
}

/// Decodes the HEADERS blocks a server sent on one connection, in order (HPACK is stateful).
struct H2HeaderReader {
    var decoder = HPACKDecoder(allocator: ByteBufferAllocator())

    /// Every HEADERS frame's fields, with its stream.
    mutating func headers(_ frames: [H2.Frame]) throws -> [(stream: UInt32, fields: [(String, String)], endStream: Bool)] {
        var out: [(UInt32, [(String, String)], Bool)] = []
        for frame in frames where frame.type == H2.FrameType.headers.rawValue {
            var buffer = ByteBuffer(bytes: frame.payload)
            let block = try decoder.decodeHeaders(from: &buffer)
            out.append((frame.stream, block.map { ($0.name, $0.value) }, frame.flags & H2.Flags.endStream != 0))
        }
        return out
    }
}

/// Polls what an h2 client received until `done` holds or `limit` passes.
func collectFrames(_ c: RawClient, limit: Duration = .seconds(5), until done: ([H2.Frame]) -> Bool) async throws -> [H2.Frame] {
    let clock = ContinuousClock()
    let end = clock.now + limit
    var frames = H2.parse(c.pending)
    while !done(frames) && clock.now < end {
        try await Task.sleep(for: .milliseconds(20))
        frames = H2.parse(c.pending)
    }
    return frames
}

extension H2 {
    static func data(stream: UInt32, _ text: String, end: Bool = false) -> [UInt8] {
        frame(.data, flags: end ? Flags.endStream : 0, stream: stream, Array(text.utf8))
    }

    static func trailers(stream: UInt32, _ fields: [(String, String)]) -> [UInt8] {
        frame(.headers, flags: Flags.endHeaders | Flags.endStream, stream: stream, hpack(fields))
    }

    static func rstStream(stream: UInt32, _ code: ErrorCode) -> [UInt8] {
        frame(.rstStream, stream: stream, be32(code.rawValue))
    }

    static func windowUpdates(_ frames: [Frame], stream: UInt32) -> Int {
        frames.filter { $0.type == FrameType.windowUpdate.rawValue && $0.stream == stream }.reduce(0) { $0 + Int(be32($1.payload, 0) & 0x7FFF_FFFF) }
    }

    static func dataText(_ frames: [Frame], stream: UInt32) -> String {
        String(decoding: frames.filter { $0.type == FrameType.data.rawValue && $0.stream == stream }.flatMap(\.payload), as: UTF8.self)
    }

    static func rst(_ frames: [Frame], stream: UInt32) -> UInt32? {
        frames.first { $0.type == FrameType.rstStream.rawValue && $0.stream == stream }?.errorCode
    }
}
