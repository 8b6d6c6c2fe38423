import Logging
import MeridianConfig
import MeridianActions
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import Testing

@testable import MeridianCore

/// The request layer without sockets: `RequestBody` as a state machine on an embedded loop, and
/// both protocol handlers in an `EmbeddedChannel` (HTTP/2 as frames in, frames out).
@Suite struct RequestLayerEmbeddedTests {
    let services = ConnectionServices(threadPool: NIOThreadPool(numberOfThreads: 1))

    final class CountingSource: RequestBody.Source {
        var consumed = 0
        var wantsMore = 0
        var requested = 0
        func bodyConsumed(_ bytes: Int) { consumed += bytes }
        func bodyWantsMore() { wantsMore += 1 }
        func bodyRequested() { requested += 1 }
    }

    // MARK: - RequestBody

    @Test func bodyQueuesUpToTheWatermarkThenAsksForMore() {
        let loop = EmbeddedEventLoop()
        let source = CountingSource()
        let body = RequestBody(eventLoop: loop, maxBytes: 1 << 20, source: source)
        let piece = ByteBuffer(repeating: 1, count: 16 << 10)
        for _ in 0..<4 { #expect(body.append(piece)) }
        #expect(body.wantsNoMore, "64 KiB queued: the protocol must stop")
        #expect(source.consumed == 0, "nothing is credited before the reader takes it")
        var got: [Int] = []
        body.read { if case .piece(let p) = $0 { got.append(p.readableBytes) } }
        #expect(got == [16 << 10] && source.requested == 1)
        #expect(!body.wantsNoMore && source.wantsMore == 1 && source.consumed == 16 << 10)
        body.finish(trailers: ["x-t": "1"])
        var events: [String] = []
        for _ in 0..<4 {
            body.read { event in
                switch event {
                case .piece(let p): events.append("piece \(p.readableBytes)")
                case .end(let t): events.append("end \(t?.first(name: "x-t") ?? "-")")
                case .failure(let e): events.append("failure \(e)")
                }
            }
        }
        #expect(events == ["piece 16384", "piece 16384", "piece 16384", "end 1"])
        #expect(source.consumed == 64 << 10)
    }

    @Test func bodyOverItsLimitFailsAndDropsWhatWasQueued() {
        let loop = EmbeddedEventLoop()
        let body = RequestBody(eventLoop: loop, maxBytes: 10, source: nil)
        #expect(body.append(ByteBuffer(string: "12345")))
        #expect(!body.append(ByteBuffer(string: "678901")))
        var outcome: RequestBody.Event?
        body.read { outcome = $0 }
        guard case .failure(let e)? = outcome else { Issue.record("expected a failure, got \(String(describing: outcome))"); return }
        #expect(e == .tooLarge(limit: 10) && e.status == .payloadTooLarge)
    }

    @Test func aDiscardedBodyCreditsEverythingAtOnce() {
        let loop = EmbeddedEventLoop()
        let source = CountingSource()
        let body = RequestBody(eventLoop: loop, maxBytes: 1 << 20, source: source)
        body.append(ByteBuffer(repeating: 0, count: 100))
        body.discard()
        #expect(source.consumed == 100)
        body.append(ByteBuffer(repeating: 0, count: 50))
        #expect(source.consumed == 150 && body.queuedBytes == 0)
    }

    @Test func aReaderStillWaitingWhenTheBodyIsDiscardedIsToldSo() {
        let loop = EmbeddedEventLoop()
        let body = RequestBody(eventLoop: loop, maxBytes: 1 << 20, source: nil)
        var outcome: RequestBody.Event?
        body.read { outcome = $0 }
        body.discard()
        guard case .failure(let e)? = outcome else { Issue.record("got \(String(describing: outcome))"); return }
        #expect(e == .abandoned)
        body.append(ByteBuffer(string: "late"))
        body.finish(trailers: nil)
        var later: RequestBody.Event?
        body.read { later = $0 }
        guard case .failure(.abandoned)? = later else { Issue.record("a cut body read as whole: \(String(describing: later))"); return }
    }

    @Test func manyTinyPiecesAreMergedAndReadInALoop() {
        let loop = EmbeddedEventLoop()
        let source = CountingSource()
        let body = RequestBody(eventLoop: loop, maxBytes: 1 << 30, source: source)
        for _ in 0..<100_000 { body.append(ByteBuffer(string: "x")) }
        body.finish(trailers: nil)
        #expect(body.queuedBytes == 100_000)
        var total = 0
        var ended = false
        // A reader that asks again from inside its handler: served by a loop, not recursion.
        func next() {
            body.read { event in
                switch event {
                case .piece(let p):
                    total += p.readableBytes
                    next()
                case .end: ended = true
                case .failure: break
                }
            }
        }
        next()
        #expect(total == 100_000 && ended && source.consumed == 100_000)
    }

    // MARK: - HTTP/1.1 handler

    func http1(_ routes: [(String, any Responder)]) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let box = RuntimeBox(LayerServer.runtime(routes, limits: .init(), timeouts: .init()))
        try channel.pipeline.syncOperations.addHandler(HTTP1ConnectionHandler(runtimeBox: box, services: services, listener: ListenerContext()))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func outbound(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let b) = data { text += String(buffer: b) }
        }
        return text
    }

    /// The reader pauses parsing right after the body's last byte: the `.end` the parser still
    /// owes must come when it resumes, with no bytes left to parse (a 1 GiB upload hung on this).
    @Test func theEndOfABodyComesAfterAPauseWithNothingBuffered() throws {
        let reader = GatedReader()
        let channel = try http1([("/", reader)])
        try channel.writeInbound(ByteBuffer(string: "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 65536\r\n\r\n" + String(repeating: "a", count: 65536)))
        #expect(try outbound(channel).isEmpty)
        reader.open()
        channel.embeddedEventLoop.run()
        #expect(try outbound(channel).hasSuffix("read 65536\n"))
        _ = try channel.finish()
    }

    /// A response made of encoded field lines (a proxied head): read as fields it decodes them, changed it keeps
    /// the decoded fields; HTTP/1.1 copies the lines into the head as they are, HTTP/2 sends them as lower-case fields.
    struct EncodedResponder: Responder {
        static let lines = "Content-Type: text/plain\r\nX-Up: 1, 2\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
        func respond(to request: Request, context: RequestContext) -> ResponseFuture {
            .immediate(Response(status: .ok, encodedFields: ByteBuffer(string: Self.lines), body: .buffer(ByteBuffer(string: "hi"))))
        }
    }

    @Test func encodedFieldsAreReadAsFieldsAndWrittenAsTheyAre() throws {
        var response = Response(status: .ok, encodedFields: ByteBuffer(string: EncodedResponder.lines))
        #expect(response.headers.map { "\($0.name)=\($0.value)" } == ["Content-Type=text/plain", "X-Up=1, 2", "Set-Cookie=a=1", "Set-Cookie=b=2"])
        #expect(response.encodedFields != nil, "reading does not change the response")
        response.headers.replaceOrAdd(name: "x-up", value: "3")
        #expect(response.encodedFields == nil)
        #expect(response.headers["x-up"] == ["3"] && response.headers["set-cookie"] == ["a=1", "b=2"])
        var replaced = Response(status: .ok, encodedFields: ByteBuffer(string: EncodedResponder.lines))
        replaced.headers = ["a": "b"]
        #expect(replaced.encodedFields == nil && replaced.headers.count == 1)
        #expect(Response.decodeFields(ByteBuffer()).isEmpty)

        let h1 = try http1([("/", EncodedResponder())])
        try h1.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
        h1.embeddedEventLoop.run()
        let text = try outbound(h1)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n") && text.contains("\r\n" + EncodedResponder.lines + "content-length: 2\r\n"))
        #expect(text.hasSuffix("\r\n\r\nhi"))
        _ = try h1.finish()

        let h2 = try http2([("/", EncodedResponder())])
        try h2.writeInbound(Self.request("/"))
        h2.pipeline.fireChannelReadComplete()
        guard case .headers(let h) = try frames(h2).first?.payload else {
            Issue.record("expected HEADERS")
            return
        }
        #expect(h.headers.first(name: "content-type") == "text/plain" && h.headers[canonicalForm: "x-up"] == ["1", "2"])
        #expect(h.headers[canonicalForm: "set-cookie"] == ["a=1", "b=2"] && h.headers.first(name: "content-length") == "2")
        _ = try h2.finish()
    }

    // MARK: - HTTP/2 writer

    func http2(_ routes: [(String, any Responder)]) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let box = RuntimeBox(LayerServer.runtime(routes, limits: .init(), timeouts: .init()))
        try channel.pipeline.syncOperations.addHandler(HTTP2ConnectionHandler(runtimeBox: box, services: services, listener: ListenerContext(scheme: "http")))
        return channel
    }

    static func request(_ path: String, method: String = "GET", endStream: Bool = true) -> HTTP2Frame {
        let headers = HPACKHeaders([(":method", method), (":scheme", "http"), (":authority", "a"), (":path", path)])
        return HTTP2Frame(streamID: 1, payload: .headers(.init(headers: headers, endStream: endStream)))
    }

    /// What the handler wrote, once the loop has run its tasks (a response completed outside the connection's read
    /// is flushed at the end of the loop's batch: ``TickFlusher``).
    func frames(_ channel: EmbeddedChannel) throws -> [HTTP2Frame] {
        channel.embeddedEventLoop.run()
        var out: [HTTP2Frame] = []
        while let f = try channel.readOutbound(as: HTTP2Frame.self) { out.append(f) }
        return out
    }

    @Test func http2WriterSendsHeadersThenOneDataFrameWithEndStream() throws {
        let channel = try http2([("/", FixedResponder(.init(status: 201, headers: [("X-Kind", "fixed")], body: "made")))])
        try channel.writeInbound(Self.request("/thing"))
        channel.pipeline.fireChannelReadComplete()
        let out = try frames(channel)
        #expect(out.count == 2)
        guard case .headers(let h) = out.first?.payload, case .data(let d) = out.last?.payload, case .byteBuffer(let b) = d.data else {
            Issue.record("expected HEADERS then DATA: \(out)")
            return
        }
        #expect(h.headers.first(name: ":status") == "201" && h.headers.first(name: "x-kind") == "fixed")
        #expect(h.headers.first(name: "content-length") == "4" && h.headers.first(name: "x-request-id") != nil)
        #expect(!h.endStream && d.endStream && String(buffer: b) == "made")
        _ = try channel.finish()
    }

    @Test func http2WriterStreamsABodyAndCreditsWhatTheReaderTakes() throws {
        let channel = try http2([("/", DuplexEcho())])
        try channel.writeInbound(Self.request("/echo", method: "POST", endStream: false))
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .data(.init(data: .byteBuffer(ByteBuffer(string: "ping"))))))
        channel.pipeline.fireChannelReadComplete()
        channel.embeddedEventLoop.run()
        var out = try frames(channel)
        let kinds = out.map { frame -> String in
            switch frame.payload {
            case .headers(let h): return "HEADERS \(h.headers.first(name: ":status") ?? "") end=\(h.endStream)"
            case .data(let d): if case .byteBuffer(let b) = d.data { return "DATA \(String(buffer: b)) end=\(d.endStream)" } else { return "DATA file" }
            case .windowUpdate(let n): return "WINDOW_UPDATE \(n)"
            default: return "\(frame.payload)"
            }
        }
        #expect(kinds == ["HEADERS 200 end=false", "DATA ping end=false", "WINDOW_UPDATE 4"])
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .data(.init(data: .byteBuffer(ByteBuffer(string: "!")), endStream: true))))
        channel.pipeline.fireChannelReadComplete()
        channel.embeddedEventLoop.run()
        out = try frames(channel)
        let last = out.compactMap { frame -> String? in
            guard case .data(let d) = frame.payload, case .byteBuffer(let b) = d.data else { return nil }
            return "\(String(buffer: b)) end=\(d.endStream)"
        }
        #expect(last == ["! end=false", " end=true"])
        _ = try channel.finish()
    }

    // MARK: - Side tables

    /// Whether the Swift runtime gave `object` a side table, as a weak reference to it does: the inline reference
    /// count word (the second of the object, 64-bit layout of swift/RefCount.h) then has UseSlowRC (bit 63) and
    /// SideTableMark (bit 62) set, and every retain and release of the object takes the runtime's slow path.
    static func hasSideTable(_ object: AnyObject) -> Bool {
        Unmanaged.passUnretained(object).toOpaque().load(fromByteOffset: 8, as: UInt64.self) >> 62 == 0b11
    }

    final class Probe {}

    @Test func aWeakReferenceGivesItsTargetASideTable() {
        let probe = Probe()
        #expect(!Self.hasSideTable(probe))
        weak var weakProbe = probe
        #expect(Self.hasSideTable(probe))
        #expect(weakProbe != nil)
    }

    /// The protocol handlers are retained and released dozens of times per request: a request body or an HTTP/2
    /// stream holding one weakly put all of that on the slow path for the rest of the connection.
    @Test func requestBodiesAndStreamsLeaveTheirHandlerWithoutASideTable() throws {
        let h1 = try http1([("/", DuplexEcho())])
        try h1.writeInbound(ByteBuffer(string: "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nping"))
        h1.embeddedEventLoop.run()
        #expect(try outbound(h1).hasSuffix("ping\r\n0\r\n\r\n"))
        #expect(!Self.hasSideTable(try h1.pipeline.syncOperations.handler(type: HTTP1ConnectionHandler.self)))
        _ = try h1.finish()

        let h2 = try http2([("/", DuplexEcho())])
        try h2.writeInbound(Self.request("/echo", method: "POST", endStream: false))
        try h2.writeInbound(HTTP2Frame(streamID: 1, payload: .data(.init(data: .byteBuffer(ByteBuffer(string: "ping")), endStream: true))))
        h2.pipeline.fireChannelReadComplete()
        #expect(try frames(h2).count >= 2)
        #expect(!Self.hasSideTable(try h2.pipeline.syncOperations.handler(type: HTTP2ConnectionHandler.self)))
        _ = try h2.finish()
    }
}
