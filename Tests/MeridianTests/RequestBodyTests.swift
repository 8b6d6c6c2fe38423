import Foundation
import MeridianConfig
import NIOCore
import NIOPosix
import Testing

@testable import MeridianCore

/// Request bodies through the request layer over real sockets: the same stream for Content-Length,
/// chunked (with trailers) and HTTP/2 DATA (with trailers); backpressure seen from the client; the
/// limits and timeouts (413, 408) on both protocols; the client-gone signal.
@Suite struct RequestBodyTests {
    static let routes: [(String, any Responder)] = [("/echo", BodyEcho()), ("/duplex", DuplexEcho())]

    func h2Start(_ c: RawClient) async throws {
        try await c.send(bytes: H2.clientStart + H2.frame(.settings, flags: H2.Flags.ack, stream: 0))
    }

    // MARK: - One stream for every framing

    @Test func aPeekedBodyStillReachesTheReaderWholeOnBothProtocols() async throws {
        try await withLayerServer([("/peek", PeekThenEcho(limit: 1000)), ("/small", PeekThenEcho(limit: 1 << 20))]) { s in
            let c = try await RawClient.connect(port: s.port)
            let body = String(repeating: "0123456789", count: 50_000)
            try await c.send("POST /peek HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let r = try await c.readResponse()
            #expect(r.text.hasPrefix("peeked=") && r.text.contains("complete=false bytes=500000 sum=\(BodyEcho.sum(Array(body.utf8)))"), "\(r.text)")
            try await c.send("POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
            #expect(try await c.readResponse().text == "peeked=11 complete=true bytes=11 sum=\(BodyEcho.sum(Array("hello world".utf8)))\n")
            await c.close()
            // HTTP/2: 60 KB in DATA frames (within the initial window: the raw client does not wait for credit).
            let h = try await RawClient.connect(port: s.port)
            try await h2Start(h)
            let piece = String(repeating: "7", count: 15_000)
            try await h.send(bytes: H2.request(stream: 1, path: "/peek", method: "POST", endStream: false))
            for i in 0..<4 { try await h.send(bytes: H2.data(stream: 1, piece, end: i == 3)) }
            let got = try await collectFrames(h) { H2.dataText($0, stream: 1).hasSuffix("\n") }
            let whole = Array(String(repeating: piece, count: 4).utf8)
            #expect(H2.dataText(got, stream: 1).contains("bytes=60000 sum=\(BodyEcho.sum(whole))"), "\(H2.dataText(got, stream: 1))")
            await h.close()
        }
    }

    @Test func contentLengthBodyReachesTheReader() async throws {
        try await withLayerServer(Self.routes) { s in
            let c = try await RawClient.connect(port: s.port)
            let body = String(repeating: "0123456789", count: 10_000)
            try await c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let r = try await c.readResponse()
            #expect(r.text == "bytes=100000 sum=\(BodyEcho.sum(Array(body.utf8)))\n")
            // The connection is still usable: the body was read to its end.
            try await c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
            #expect(try await c.readResponse().text.hasPrefix("bytes=3 "))
            await c.close()
        }
    }

    @Test func chunkedBodyAndTrailersReachTheReader() async throws {
        try await withLayerServer(Self.routes) { s in
            let c = try await RawClient.connect(port: s.port)
            try await c.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n")
            let r = try await c.readResponse()
            #expect(r.text == "bytes=11 sum=\(BodyEcho.sum(Array("hello world".utf8))) trailers=x-checksum:abc\n")
            await c.close()
        }
    }

    @Test func http2DataAndTrailersReachTheReader() async throws {
        try await withLayerServer(Self.routes) { s in
            let c = try await RawClient.connect(port: s.port)
            try await h2Start(c)
            try await c.send(
                bytes: H2.request(stream: 1, path: "/echo", method: "POST", endStream: false) + H2.data(stream: 1, "hello")
                    + H2.data(stream: 1, " world") + H2.trailers(stream: 1, [("x-checksum", "abc")])
            )
            let frames = try await collectFrames(c) { H2.dataText($0, stream: 1).hasSuffix("\n") }
            #expect(H2.dataText(frames, stream: 1) == "bytes=11 sum=\(BodyEcho.sum(Array("hello world".utf8))) trailers=x-checksum:abc\n")
            await c.close()
        }
    }

    @Test func aResponseStreamsWhileTheBodyArrives() async throws {
        try await withLayerServer(Self.routes) { s in
            // HTTP/1.1: the answer to the first chunk comes before the second is sent.
            let c = try await RawClient.connect(port: s.port)
            try await c.send("POST /duplex HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nping\r\n")
            let first = try await c.waitFor("4\r\nping\r\n")
            #expect(first.hasPrefix("HTTP/1.1 200") && first.contains("transfer-encoding: chunked"))
            try await c.send("4\r\npong\r\n0\r\n\r\n")
            let all = try await c.waitFor("0\r\n\r\n")
            #expect(all.contains("4\r\nping\r\n4\r\npong\r\n0\r\n\r\n"))
            await c.close()

            // HTTP/2: DATA back for DATA in, on one open stream.
            let h = try await RawClient.connect(port: s.port)
            try await h2Start(h)
            try await h.send(bytes: H2.request(stream: 1, path: "/duplex", method: "POST", endStream: false) + H2.data(stream: 1, "ping"))
            _ = try await collectFrames(h) { H2.dataText($0, stream: 1) == "ping" }
            try await h.send(bytes: H2.data(stream: 1, "pong", end: true))
            let frames = try await collectFrames(h) { $0.contains { $0.type == H2.FrameType.data.rawValue && $0.stream == 1 && $0.flags & H2.Flags.endStream != 0 } }
            #expect(H2.dataText(frames, stream: 1) == "pingpong")
            await h.close()
        }
    }

    // MARK: - Backpressure

    @Test func http1StopsReadingWhileTheReaderIsBehind() async throws {
        let reader = GatedReader()
        var limits = ServerLimits()
        limits.maxBodyBytes = 256 << 20
        try await withLayerServer([("/", reader)], limits: limits) { s in
            let c = try await RawClient.connect(port: s.port)
            let total = 64 << 20
            try await c.send("PUT /slow HTTP/1.1\r\nHost: a\r\nContent-Length: \(total)\r\n\r\n")
            let chunk = ByteBuffer(repeating: 0x61, count: 64 << 10)
            let sent = ManagedCounter()
            let sender = Task {
                for _ in 0..<(total / chunk.readableBytes) {
                    try await c.channel.writeAndFlush(chunk)
                    sent.add(chunk.readableBytes)
                }
            }
            // The client's writes stop completing: socket buffers fill because the server stopped
            // reading (it holds at most its 64 KiB body queue and 64 KiB of unparsed bytes).
            let plateau = try await sent.waitForPlateau(quiet: .milliseconds(700), limit: .seconds(20))
            #expect(plateau < 24 << 20, "the client got \(plateau) bytes out while nobody read")
            #expect(reader.bytesRead.load(ordering: .relaxed) == 0)
            reader.open()
            try await sender.value
            let r = try await c.readResponse(timeout: .seconds(30))
            #expect(r.text == "read \(total)\n")
            await c.close()
        }
    }

    @Test func http2ReturnsStreamCreditOnlyForWhatTheReaderTook() async throws {
        let reader = GatedReader()
        try await withLayerServer([("/slow", reader), ("/echo", BodyEcho())]) { s in
            let c = try await RawClient.connect(port: s.port)
            try await h2Start(c)
            // Fill the stream's 65,535-byte window while nobody reads.
            let piece = String(repeating: "x", count: 16_383)
            var frames = H2.request(stream: 1, path: "/slow", method: "POST", endStream: false)
            for _ in 0..<4 { frames += H2.data(stream: 1, piece) }
            frames += H2.data(stream: 1, "yyy")
            try await c.send(bytes: frames)
            // Another stream is answered meanwhile (the connection is not held up), and by the
            // time its answer is here, the server has read and flushed everything before it.
            try await c.send(bytes: H2.request(stream: 3, path: "/echo", method: "POST", endStream: false) + H2.data(stream: 3, "z", end: true))
            let before = try await collectFrames(c) { H2.dataText($0, stream: 3).hasSuffix("\n") }
            #expect(H2.windowUpdates(before, stream: 1) == 0, "no stream credit while the reader has taken nothing")
            reader.open()
            let opened = try await collectFrames(c) { H2.windowUpdates($0, stream: 1) >= 65_535 }
            #expect(H2.windowUpdates(opened, stream: 1) == 65_535, "credit for exactly what the reader took")
            try await c.send(bytes: H2.data(stream: 1, "end", end: true))
            let after = try await collectFrames(c) { H2.dataText($0, stream: 1).hasPrefix("read") }
            #expect(H2.dataText(after, stream: 1) == "read 65538\n")
            await c.close()
        }
    }

    // MARK: - Limits and timeouts

    @Test func overTheLimitIs413OnBothProtocols() async throws {
        var limits = ServerLimits()
        limits.maxBodyBytes = 1000
        try await withLayerServer(Self.routes, limits: limits) { s in
            // Declared: answered before the responder runs; the connection closes.
            let a = try await RawClient.connect(port: s.port)
            try await a.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n")
            let ra = try await a.readResponse()
            #expect(ra.status == 413)
            #expect(await a.waitForClose())

            // Chunked: found while reading; 413 and a close.
            let b = try await RawClient.connect(port: s.port)
            try await b.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n\(String(repeating: "a", count: 1024))\r\n")
            let rb = try await b.readResponse()
            #expect(rb.status == 413)
            #expect(rb.header("connection") == "close")
            #expect(await b.waitForClose())

            // HTTP/2: 413, then RST_STREAM(NO_ERROR) so the client stops sending.
            let h = try await RawClient.connect(port: s.port)
            try await h2Start(h)
            try await h.send(bytes: H2.request(stream: 1, path: "/echo", method: "POST", endStream: false) + H2.data(stream: 1, String(repeating: "a", count: 1500)))
            let frames = try await collectFrames(h) { H2.rst($0, stream: 1) != nil }
            var reader = H2HeaderReader()
            let heads = try reader.headers(frames)
            #expect(heads.first { $0.stream == 1 }?.fields.first { $0.0 == ":status" }?.1 == "413")
            #expect(H2.rst(frames, stream: 1) == H2.ErrorCode.noError.rawValue)
            // HTTP/2 with a declared length: the same answer before any DATA.
            try await h.send(bytes: H2.request(stream: 3, path: "/echo", method: "POST", extra: [("content-length", "5000")], endStream: false))
            let more = try await collectFrames(h) { H2.rst($0, stream: 3) != nil }
            #expect(try reader.headers(Array(more.dropFirst(frames.count))).first { $0.stream == 3 }?.fields.first { $0.0 == ":status" }?.1 == "413")
            await h.close()
        }
    }

    @Test func aStalledBodyIs408OnBothProtocols() async throws {
        var timeouts = ServerTimeouts()
        timeouts.bodyRead = .milliseconds(300)
        try await withLayerServer(Self.routes, timeouts: timeouts) { s in
            let a = try await RawClient.connect(port: s.port)
            try await a.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
            let r = try await a.readResponse()
            #expect(r.status == 408)
            #expect(await a.waitForClose())

            let h = try await RawClient.connect(port: s.port)
            try await h2Start(h)
            try await h.send(bytes: H2.request(stream: 1, path: "/echo", method: "POST", endStream: false) + H2.data(stream: 1, "abc"))
            let frames = try await collectFrames(h) { H2.rst($0, stream: 1) != nil }
            #expect(H2.dataText(frames, stream: 1).hasPrefix("408"))
            #expect(H2.rst(frames, stream: 1) == H2.ErrorCode.noError.rawValue)
            #expect(s.counter("body_read") == 2)
            await h.close()
        }
    }

    @Test func aSlowReaderIsNotTheClientsTimeout() async throws {
        // The reader holds the body past body_read: the client is not to blame and gets no 408.
        // The body is small enough to sit in socket buffers once sent, so after the gate opens
        // nothing depends on how fast the (shared, possibly busy) test client is.
        let reader = GatedReader()
        var timeouts = ServerTimeouts()
        timeouts.bodyRead = .milliseconds(500)
        try await withLayerServer([("/", reader)], timeouts: timeouts) { s in
            let c = try await RawClient.connect(port: s.port)
            let total = 160 << 10
            // Head and body in one write: a test task delayed between two sends (the cooperative
            // pool is small and some tests block it with child processes) would be a real stall.
            try await c.send(bytes: Array("PUT /slow HTTP/1.1\r\nHost: a\r\nContent-Length: \(total)\r\n\r\n".utf8) + [UInt8](repeating: 0x62, count: total))
            try await Task.sleep(for: .milliseconds(1500))  // three body_read periods with the reader stopped: the subject
            #expect(s.counter("body_read") == 0)
            reader.open()
            #expect(try await c.readResponse(timeout: .seconds(20)).text == "read \(total)\n")
            #expect(s.counter("body_read") == 0)
            await c.close()
        }
    }

    @Test func a413IsReadEvenWhileTheClientKeepsSending() async throws {
        // The refused body keeps coming; closing on unread bytes would send RST and could destroy
        // the 413 before the client reads it (nginx's lingering close is for this).
        var limits = ServerLimits()
        limits.maxBodyBytes = 1000
        try await withLayerServer(Self.routes, limits: limits) { s in
            let c = try await RawClient.connect(port: s.port)
            try await c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5000000\r\n\r\n")
            let sender = Task { try? await c.send(bytes: [UInt8](repeating: 0x61, count: 2_000_000)) }
            let r = try await c.readResponse()
            #expect(r.status == 413)
            #expect(await c.waitForClose(timeout: .seconds(10)))
            sender.cancel()
        }
    }

    @Test func aHalfCloseAfterTheWholeBodyIsStillAnswered() async throws {
        let reader = GatedReader()
        try await withLayerServer([("/", reader)]) { s in
            let c = try await RawClient.connect(port: s.port)
            let body = String(repeating: "z", count: 300_000)
            try await c.send("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            try await c.shutdownOutput()  // all sent; the reader is still behind
            try await Task.sleep(for: .milliseconds(200))
            reader.open()
            #expect(try await c.readResponse().text == "read 300000\n")
        }
    }

    // MARK: - Cancellation

    @Test func theResponderLearnsTheClientHasGone() async throws {
        let watcher = GoneWatcher()
        try await withLayerServer([("/", watcher)]) { s in
            let c = try await RawClient.connect(port: s.port)
            try await c.send("GET /wait HTTP/1.1\r\nHost: a\r\n\r\n")
            try await watcher.waitForRequest()
            await c.close()
            #expect(try await watcher.waitForReason() == "client closed the connection")

            let watcher2 = GoneWatcher()
            s.box.replace(with: LayerServer.runtime([("/", watcher2)], limits: .init(), timeouts: .init()))
            let h = try await RawClient.connect(port: s.port)
            try await h2Start(h)
            try await h.send(bytes: H2.request(stream: 1, path: "/wait"))
            try await watcher2.waitForRequest()
            try await h.send(bytes: H2.rstStream(stream: 1, .cancel))
            #expect(try await watcher2.waitForReason() == "stream reset before the response was sent")
            await h.close()
        }
    }
}

extension RawClient {
    /// Waits until the received text contains `marker`; answers all of it.
    func waitFor(_ marker: String, timeout: Duration = .seconds(5)) async throws -> String {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            let text = String(decoding: pending, as: UTF8.self)
            if text.contains(marker) { return text }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestError("no \(marker.debugDescription) in time; have \(String(decoding: pending, as: UTF8.self).debugDescription)")
    }
}

/// A byte count shared with a sending task, and a wait for it to stop growing.
final class ManagedCounter: @unchecked Sendable {  // every field is guarded by `lock`
    private let lock = NSLock()
    private var value = 0

    func add(_ n: Int) {
        lock.lock()
        value += n
        lock.unlock()
    }

    var current: Int {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    /// Waits until the count has not moved for `quiet`, and answers it.
    func waitForPlateau(quiet: Duration, limit: Duration) async throws -> Int {
        let end = ContinuousClock.now + limit
        var last = current
        var since = ContinuousClock.now
        while ContinuousClock.now < end {
            try await Task.sleep(for: .milliseconds(50))
            let now = current
            if now != last {
                last = now
                since = ContinuousClock.now
            } else if ContinuousClock.now - since >= quiet {
                return now
            }
        }
        return current
    }
}
