import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

@testable import MeridianCore

/// The handler that gathers the writes of one flush before `NIOSSLHandler` seals them into
/// records. What reaches the channel must be the same bytes in the same order, with every promise
/// completed as its bytes are written or fail.
@Suite struct TLSWriteCoalescerTests {
    private func buffer(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }

    private func outbound(_ channel: EmbeddedChannel) throws -> [IOData] {
        var out: [IOData] = []
        while let next = try channel.readOutbound(as: IOData.self) { out.append(next) }
        return out
    }

    private func strings(_ data: [IOData]) -> [String] {
        data.map {
            switch $0 {
            case .byteBuffer(let b): return String(buffer: b)
            case .fileRegion(let r): return "file(\(r.readableBytes))"
            }
        }
    }

    @Test func smallWritesOfOneFlushLeaveAsOneWriteAndAllPromisesComplete() throws {
        let channel = EmbeddedChannel(handler: TLSWriteCoalescer())
        let promises = (0..<3).map { _ in channel.eventLoop.makePromise(of: Void.self) }
        for (i, part) in ["HEADERS", "DATA-header", "payload"].enumerated() {
            channel.write(IOData.byteBuffer(buffer(part)), promise: promises[i])
        }
        channel.write(IOData.byteBuffer(buffer("-no-promise")), promise: nil)
        #expect(try outbound(channel).isEmpty, "nothing may leave before the flush")
        channel.flush()
        #expect(try strings(outbound(channel)) == ["HEADERSDATA-headerpayload-no-promise"])
        for p in promises { try p.futureResult.wait() }
        #expect(try channel.finish().isClean)
    }

    @Test func aLoneWriteIsPassedOnAsItIs() throws {
        let channel = EmbeddedChannel(handler: TLSWriteCoalescer())
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(IOData.byteBuffer(buffer("ping-ack")), promise: promise)
        #expect(try strings(outbound(channel)) == ["ping-ack"])
        try promise.futureResult.wait()
        // The gathering buffer is reused across batches: a second batch must not carry the first.
        channel.write(IOData.byteBuffer(buffer("a")), promise: nil)
        channel.write(IOData.byteBuffer(buffer("b")), promise: nil)
        channel.flush()
        channel.write(IOData.byteBuffer(buffer("c")), promise: nil)
        channel.write(IOData.byteBuffer(buffer("d")), promise: nil)
        channel.flush()
        #expect(try strings(outbound(channel)) == ["ab", "cd"])
        _ = try channel.finish()
    }

    @Test func noBufferIsHeldBetweenBatches() throws {
        let coalescer = TLSWriteCoalescer()
        let channel = EmbeddedChannel(handler: coalescer)
        let piece = String(repeating: "z", count: 10_000)
        for _ in 0..<4 { channel.write(IOData.byteBuffer(buffer(piece)), promise: nil) }
        channel.flush()
        #expect(try outbound(channel).map(\.readableBytes) == [40_000])
        #expect(coalescer.heldBufferCapacity == 0, "an idle connection holds no gathering buffer")
        channel.write(IOData.byteBuffer(buffer("small")), promise: nil)
        channel.write(IOData.byteBuffer(buffer("batch")), promise: nil)
        channel.flush()
        #expect(try strings(outbound(channel)) == ["smallbatch"])
        #expect(coalescer.heldBufferCapacity == 0, "nor after a small batch")
        _ = try channel.finish()
    }

    /// Writes issued from inside the flush (a promise callback, a writability change) belong to
    /// the next batch and must all arrive.
    final class ReentrantFront: ChannelOutboundHandler {
        typealias OutboundIn = IOData
        var onFirstFlush: (() -> Void)?
        func flush(context: ChannelHandlerContext) {
            context.flush()
            if let f = onFirstFlush {
                onFirstFlush = nil
                f()
            }
        }
    }

    @Test func writesMadeDuringAFlushGoOutWithTheNext() throws {
        let front = ReentrantFront()
        let channel = EmbeddedChannel(handlers: [front, TLSWriteCoalescer()])
        let late = channel.eventLoop.makePromise(of: Void.self)
        front.onFirstFlush = {
            channel.write(IOData.byteBuffer(self.buffer("A")), promise: nil)
            channel.write(IOData.byteBuffer(self.buffer("B")), promise: late)
        }
        let piece = String(repeating: "w", count: 10_000)
        channel.write(IOData.byteBuffer(buffer(piece)), promise: nil)
        channel.write(IOData.byteBuffer(buffer(piece)), promise: nil)
        channel.flush()
        channel.flush()
        #expect(try strings(outbound(channel)) == [piece + piece, "AB"])
        try late.futureResult.wait()
        _ = try channel.finish()
    }

    @Test func largeWritesAndFileRegionsKeepTheirPlace() throws {
        let channel = EmbeddedChannel(handler: TLSWriteCoalescer())
        let big = String(repeating: "x", count: TLSWriteCoalescer.limit)
        channel.write(IOData.byteBuffer(buffer("head1")), promise: nil)
        channel.write(IOData.byteBuffer(buffer("head2")), promise: nil)
        channel.write(IOData.byteBuffer(buffer(big)), promise: nil)
        channel.write(IOData.byteBuffer(buffer("tail")), promise: nil)
        let handle = try NIOFileHandle(_deprecatedPath: "/dev/null")
        defer { try? handle.close() }
        channel.write(IOData.fileRegion(FileRegion(fileHandle: handle, readerIndex: 0, endIndex: 0)), promise: nil)
        channel.write(IOData.byteBuffer(buffer("after")), promise: nil)
        channel.flush()
        #expect(try strings(outbound(channel)) == ["head1head2", big, "tail", "file(0)", "after"])
        _ = try channel.finish()
    }

    @Test func gatheredBytesLeaveOnceTheyReachTheLimitEvenBeforeAFlush() throws {
        let channel = EmbeddedChannel(handler: TLSWriteCoalescer())
        let piece = String(repeating: "y", count: TLSWriteCoalescer.limit / 4)
        for _ in 0..<5 { channel.write(IOData.byteBuffer(buffer(piece)), promise: nil) }
        channel.flush()
        let out = strings(try outbound(channel))
        #expect(out.map(\.count) == [TLSWriteCoalescer.limit, TLSWriteCoalescer.limit / 4])
        #expect(out.joined() == String(repeating: piece, count: 5))
        _ = try channel.finish()
    }

    /// Stands in front of the coalescer where `NIOSSLHandler` would: records what reaches it and,
    /// as `NIOSSLHandler` does with unflushed writes on close, fails their promises.
    final class FrontRecorder: ChannelOutboundHandler {
        typealias OutboundIn = IOData
        var events: [String] = []
        var held: [EventLoopPromise<Void>] = []
        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            if case .byteBuffer(let b) = unwrapOutboundIn(data) { events.append("write(\(String(buffer: b)))") }
            if let promise { held.append(promise) }
        }
        func flush(context: ChannelHandlerContext) { events.append("flush") }
        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            events.append("close")
            for p in held { p.fail(ChannelError.ioOnClosedChannel) }
            held.removeAll()
            context.close(mode: mode, promise: promise)
        }
    }

    @Test func gatheredWritesGoAheadOfACloseAndShareItsFate() throws {
        let front = FrontRecorder()
        let channel = EmbeddedChannel(handlers: [front, TLSWriteCoalescer()])
        let first = channel.eventLoop.makePromise(of: Void.self)
        let second = channel.eventLoop.makePromise(of: Void.self)
        channel.write(IOData.byteBuffer(buffer("one")), promise: first)
        channel.write(IOData.byteBuffer(buffer("two")), promise: second)
        _ = try? channel.finish()
        #expect(front.events == ["write(onetwo)", "close"])
        #expect(throws: ChannelError.ioOnClosedChannel) { try first.futureResult.wait() }
        #expect(throws: ChannelError.ioOnClosedChannel) { try second.futureResult.wait() }
    }

    /// End to end, through a relay that counts the TLS records Meridian sends: ten h2 requests
    /// that arrive in one read are answered with 30 writes (HEADERS, DATA header, payload each),
    /// which must leave as a handful of records, not thirty.
    @Test func tenResponsesOfOneReadLeaveInAFewTLSRecords() async throws {
        // The file's cache entry must outlive the test (a miss is answered with a flush of its own).
        let routes = """
            hosts:
              - default: true
                routes: [{match: {prefix: /}, static: {root: "{{root}}", metadata_cache_validity: 1h}}]
            """
        try await withTLSFixture(extra: routes, files: ["index.html": "hi"]) { f in
            let relay = try await TLSRecordCounter.start(upstreamPort: f.server.port)
            let c = try await RawClient.connect(port: relay.port, tls: .init(serverName: "a.test", caPath: f.certs.caPath, alpn: ["h2"]))
            #expect(try await c.handshake() == "h2")
            try await c.send(bytes: H2.clientStart + H2.frame(.settings, flags: H2.Flags.ack, stream: 0))
            func settled(_ done: ([H2.Frame]) -> Bool) async throws -> [H2.Frame] {
                for _ in 0..<200 {
                    let frames = H2.parse(c.pending)
                    if done(frames) { return frames }
                    try await Task.sleep(for: .milliseconds(10))
                }
                return H2.parse(c.pending)
            }
            // One request first: it fills the file cache (a miss is answered from the I/O pool, each
            // such answer with its own flush). Then quiet (a session ticket may follow the handshake):
            // only then count.
            try await c.send(bytes: H2.request(stream: 1))
            _ = try await settled { $0.contains { $0.type == H2.FrameType.data.rawValue && $0.stream == 1 } }
            try await Task.sleep(for: .milliseconds(200))
            let before = relay.records
            let streams = (1..<11).map { UInt32(2 * $0 + 1) }
            try await c.send(bytes: streams.flatMap { H2.request(stream: $0) })
            let frames = try await settled { frames in
                streams.allSatisfy { id in frames.contains { $0.type == H2.FrameType.data.rawValue && $0.stream == id && $0.flags & H2.Flags.endStream != 0 } }
            }
            #expect(streams.allSatisfy { id in frames.contains { $0.type == H2.FrameType.data.rawValue && $0.stream == id && $0.payload == Array("hi".utf8) } })
            let records = relay.records.records - before.records
            #expect(records >= 1 && records <= 5, "10 responses took \(records) TLS records")
            await c.close()
            await relay.stop()
        }
    }
}
