// `--lean`: the per-request work of Meridian's proxy on this bench's route, written as lean as NIO allows, to price
// a redesign before anyone builds it. No String per field, no HTTPHeaders, no object per request: the request's
// state lives in the connection's handler and is reused. Per request it does:
// - the request line and every field parsed and checked (tokens, field-value bytes) into offsets;
// - `Connection: close` honoured (HTTP/1.1 only: 1.0 gets 400); a path needing normalisation refused (400);
// - the route matched by host (port and case aside) and path prefix in a small virtual-host table;
// - a request id (the client's X-Request-ID, else 16 hex digits made here);
// - an endpoint picked by round robin past its breaker, under a lock (uncontended: one loop, as Meridian runs here);
// - the upstream head: the client's fields (hop-by-hop ones out), Host, X-Forwarded-For/-Proto/-Host, Forwarded
//   and Via (a prior X-Forwarded-For is always kept, where Meridian keeps it only from trusted proxies; the
//   bench's client sends none), and a head deadline stored and checked when the response comes;
// - the response head parsed and filtered as it is copied into the client's head (its hop-by-hop fields, Date,
//   Server and X-Request-ID out; Date, Server, X-Request-ID and Content-Length in), the body gathered behind it;
// - under the lock again: the active count, the breaker's rolling window (summed, and opened on a failure ratio
//   over half of at least 20 requests) and the outlier detector's consecutive 5xx;
// - per-loop status-class counters and latency histograms per route and per endpoint; three clock reads.
// Not done: TLS, request bodies, HEAD, chunked framing, pipelining, timeouts firing, retries, error answers beyond
// a status line, upstream connections closing. Nor what Meridian does on top of that work: the responder and
// middleware interfaces, a `RequestRecord` for observers and annotations for the access log and spans, metrics
// keyed by labels in per-thread shards, four lock sections per request with the retry budget, the head timeout
// in a deadline queue, an `HTTPResponseHead` per response.
//
// Two options put back one of Meridian's costs each, to price it: `--lean-strings` also builds the request's
// `HTTPRequestHead` (a `String` per method, target, field name and value, in `HTTPHeaders`), keeps it to the
// response as Meridian's `Request` does, and reads the fields from it for the route and the upstream head;
// `--lean-objects` makes an exchange object per request (holding the request's state and the client) and answers
// through a closure it keeps (the answer is the finished bytes, not a `Response` in a `Result`).
// `--lean-strings-objects` does both.
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// What the proxy keeps per endpoint on a loop: the balancer's and the metrics' state, plain values.
struct LeanEndpointState {
    var statusClass = [Int](repeating: 0, count: 6)
    var latency = LeanHistogram()
}

/// What the cluster's loops share per endpoint, under a lock as Meridian's cluster health is: active requests
/// (for the admission cap), the breaker's rolling window of 10 one-second buckets of (requests, failures), and the
/// outlier detector's consecutive 5xx.
struct LeanSharedEndpoint {
    var active = 0
    var buckets = [(Int, Int)](repeating: (0, 0), count: 10)
    var bucketStart = NIODeadline.uptimeNanoseconds(0)
    var bucket = 0
    var open = false
    var reopenAt = NIODeadline.uptimeNanoseconds(0)
    var consecutive5xx = 0
}

struct LeanHistogram {
    static let bounds: [Int64] = [
        500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000, 100_000_000, 250_000_000,
        500_000_000, 1_000_000_000,
    ]
    var counts = [Int](repeating: 0, count: 12)
    var sum: Int64 = 0
    mutating func record(_ nanoseconds: Int64) {
        var i = 0
        while i < Self.bounds.count && nanoseconds > Self.bounds[i] { i += 1 }
        counts[i] += 1
        sum += nanoseconds
    }
}

final class LeanState {
    var endpoints = [LeanEndpointState()]
    let shared = NIOLockedValueBox([LeanSharedEndpoint()])
    var next = 0
    var routeStatus = [Int](repeating: 0, count: 6)
    var routeLatency = LeanHistogram()
    var idSeed: UInt64 = 0x9E37_79B9_7F4A_7C15
    var dateSecond: Int64 = -1
    var date = [UInt8]()
    /// Responses that came after their head deadline (counted, as a timeout would be fired).
    var late = 0
    /// The routes as Meridian's router has them for this bench: virtual hosts by name (lower case) with path
    /// prefixes, then the default host's; matched by host (port and case aside) and the longest listed prefix.
    let routes: [(host: [UInt8]?, prefix: [UInt8])] = [
        (Array("api.example.com".utf8), Array("/v1/".utf8)), (Array("api.example.com".utf8), Array("/".utf8)),
        (nil, Array("/static/".utf8)), (nil, Array("/".utf8)),
    ]
    let pool: LeanPool
    /// `--lean-strings`, `--lean-objects`: see the top of this file.
    let strings: Bool
    let objects: Bool

    init(upstreamPort: Int, loop: any EventLoop, strings: Bool, objects: Bool) {
        pool = LeanPool(port: upstreamPort, loop: loop)
        self.strings = strings
        self.objects = objects
    }

    /// The route for `host` (a Host value) and `path` (the target up to `?`): its index, nil when none matches.
    func route(host: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer) -> Int? {
        var end = host.count
        if let colon = host.lastIndex(of: UInt8(ascii: ":")), host.first != UInt8(ascii: "[") { end = colon }
        var hostKnown = false
        for (i, r) in routes.enumerated() {
            if let name = r.host {
                guard name.count == end, (0..<end).allSatisfy({ leanFold(host[$0]) == name[$0] }) else { continue }
                hostKnown = true
            } else if hostKnown {
                return nil  // a named host's routes did not match: no fall-through to the default host
            }
            if path.count >= r.prefix.count, (0..<r.prefix.count).allSatisfy({ path[$0] == r.prefix[$0] }) { return i }
        }
        return nil
    }

    /// One lock for the pick: the admission (max active), the breaker's state and the active count.
    func pick(at now: NIODeadline) -> Int? {
        shared.withLockedValue { s -> Int? in
            for _ in 0..<s.count {
                let i = next
                next = (next + 1) % s.count
                if s[i].open && now >= s[i].reopenAt { s[i].open = false }  // (half-open: one probe, simplified)
                if !s[i].open && s[i].active < 1024 {
                    s[i].active += 1
                    return i
                }
            }
            return nil
        }
    }

    func finished(_ i: Int, status: Int, started: NIODeadline, at now: NIODeadline) {
        let nanos = (now - started).nanoseconds
        let failed = status >= 500
        // One lock for the end: the active count, the breaker's window and the outlier counter.
        shared.withLockedValue { s in
            s[i].active -= 1
            if now.uptimeNanoseconds - s[i].bucketStart.uptimeNanoseconds > 1_000_000_000 {
                s[i].bucket = (s[i].bucket + 1) % 10
                s[i].buckets[s[i].bucket] = (0, 0)
                s[i].bucketStart = now
            }
            s[i].buckets[s[i].bucket].0 += 1
            if failed { s[i].buckets[s[i].bucket].1 += 1 }
            s[i].consecutive5xx = failed ? s[i].consecutive5xx + 1 : 0
            // The breaker's verdict: a failure ratio over half of at least 20 requests in the window opens it.
            var requests = 0
            var failures = 0
            for (r, f) in s[i].buckets {
                requests += r
                failures += f
            }
            if requests >= 20 && failures * 2 > requests {
                s[i].open = true
                s[i].reopenAt = now + .seconds(5)
            }
        }
        endpoints[i].statusClass[min(status / 100, 5)] += 1
        endpoints[i].latency.record(nanos)
        routeStatus[min(status / 100, 5)] += 1
        routeLatency.record(nanos)
    }

    /// A 16-hex-digit request id.
    func requestID(into out: inout ByteBuffer) {
        idSeed &+= 0x9E37_79B9_7F4A_7C15
        var z = idSeed
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let hex: StaticString = "0123456789abcdef"
        for shift in stride(from: 60, through: 0, by: -4) {
            out.writeInteger(hex.utf8Start[Int((z >> UInt64(shift)) & 0xF)])
        }
    }

    /// The Date value, made once a second.
    func writeDate(into out: inout ByteBuffer) {
        var t = time_t()
        time(&t)
        if Int64(t) != dateSecond {
            dateSecond = Int64(t)
            var tm = tm()
            gmtime_r(&t, &tm)
            var b = [CChar](repeating: 0, count: 64)
            let n = strftime(&b, 64, "%a, %d %b %Y %H:%M:%S GMT", &tm)
            date = b[0..<n].map { UInt8(bitPattern: $0) }
        }
        out.writeBytes(date)
    }
}

final class LeanPool {
    var idle: [LeanUpstreamHandler] = []
    let port: Int
    let loop: any EventLoop
    init(port: Int, loop: any EventLoop) {
        self.port = port
        self.loop = loop
    }

    /// A new connection (the handler's `idle` is taken first by the caller, with no closure made).
    func connect(_ state: LeanState, _ done: @escaping (LeanUpstreamHandler) -> Void) {
        connectUpstream(LeanUpstreamHandler(state: state), port: port, on: loop, then: done)
    }
}

/// Where a field is in the head buffer.
struct LeanField {
    var nameStart: Int32
    var nameEnd: Int32
    var valueStart: Int32
    var valueEnd: Int32
}

enum LeanKind { case keep, drop, host, connection, contentLength, forwardedFor, requestID }

@inline(__always) func leanFold(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

func leanEquals(_ raw: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ lower: StaticString) -> Bool {
    guard end - start == lower.utf8CodeUnitCount else { return false }
    let p = lower.utf8Start
    for i in 0..<(end - start) where leanFold(raw[start + i]) != p[i] { return false }
    return true
}

func leanRequestKind(_ raw: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> LeanKind {
    switch e - s {
    case 2: return leanEquals(raw, s, e, "te") ? .drop : .keep
    case 4: return leanEquals(raw, s, e, "host") ? .host : .keep
    case 6: return leanEquals(raw, s, e, "expect") ? .drop : .keep
    case 7: return leanEquals(raw, s, e, "upgrade") || leanEquals(raw, s, e, "trailer") ? .drop : .keep
    case 10:
        if leanEquals(raw, s, e, "connection") { return .connection }
        return leanEquals(raw, s, e, "keep-alive") ? .drop : .keep
    case 12: return leanEquals(raw, s, e, "x-request-id") ? .requestID : .keep
    case 14: return leanEquals(raw, s, e, "content-length") ? .contentLength : .keep
    case 15: return leanEquals(raw, s, e, "x-forwarded-for") ? .forwardedFor : .keep
    case 16: return leanEquals(raw, s, e, "proxy-connection") ? .drop : .keep
    case 17: return leanEquals(raw, s, e, "transfer-encoding") ? .drop : .keep
    default: return .keep
    }
}

func leanRequestKind(_ name: String) -> LeanKind {
    var name = name
    return name.withUTF8 { leanRequestKind(UnsafeRawBufferPointer($0), 0, $0.count) }
}

func leanResponseKind(_ raw: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> LeanKind {
    switch e - s {
    case 4: return leanEquals(raw, s, e, "date") ? .drop : .keep
    case 6: return leanEquals(raw, s, e, "server") ? .drop : .keep
    case 10:
        if leanEquals(raw, s, e, "connection") { return .connection }
        return leanEquals(raw, s, e, "keep-alive") ? .drop : .keep
    case 12: return leanEquals(raw, s, e, "x-request-id") ? .drop : .keep
    case 14: return leanEquals(raw, s, e, "content-length") ? .contentLength : .keep
    case 17: return leanEquals(raw, s, e, "transfer-encoding") ? .drop : .keep
    default: return .keep
    }
}

/// tchar (RFC 9110 §5.6.2).
let leanTchar: [Bool] = (0..<256).map { b in
    let c = UInt8(b)
    if (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) { return true }
    return "!#$%&'*+-.^_`|~".utf8.contains(c)
}

/// The fields of a head, after its first line, into `fields`; the end of the head (past its blank line) or nil when
/// malformed. `raw` holds the whole head.
func leanParseFields(_ raw: UnsafeRawBufferPointer, from start: Int, into fields: inout [LeanField]) -> Int? {
    fields.removeAll(keepingCapacity: true)
    var i = start
    let n = raw.count
    while i + 1 < n {
        if raw[i] == 13 && raw[i + 1] == 10 { return i + 2 }
        let nameStart = i
        while i < n && raw[i] != UInt8(ascii: ":") {
            guard leanTchar[Int(raw[i])] else { return nil }
            i += 1
        }
        guard i < n, i > nameStart else { return nil }
        let nameEnd = i
        i += 1
        while i < n && (raw[i] == 32 || raw[i] == 9) { i += 1 }
        let valueStart = i
        while i < n && raw[i] != 13 {
            let b = raw[i]
            guard b >= 32 || b == 9, b != 127 else { return nil }
            i += 1
        }
        guard i + 1 < n, raw[i + 1] == 10 else { return nil }
        var valueEnd = i
        while valueEnd > valueStart && (raw[valueEnd - 1] == 32 || raw[valueEnd - 1] == 9) { valueEnd -= 1 }
        fields.append(LeanField(nameStart: Int32(nameStart), nameEnd: Int32(nameEnd), valueStart: Int32(valueStart), valueEnd: Int32(valueEnd)))
        i += 2
    }
    return nil
}

final class LeanClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let state: LeanState
    var context: ChannelHandlerContext!
    var buffer: ByteBuffer?
    var fields: [LeanField] = []
    var clientIP: [UInt8] = []
    var keepAlive = true
    // The request in flight: its id, endpoint and times.
    var requestID = ByteBuffer()
    var endpoint = 0
    var started = NIODeadline.uptimeNanoseconds(0)
    var headDeadline = NIODeadline.uptimeNanoseconds(0)
    /// `--lean-strings`: the request's head as Meridian keeps it, until the response.
    var head: HTTPRequestHead?

    init(state: LeanState) { self.state = state }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientIP = Array((context.channel.remoteAddress?.ipAddress ?? "unknown").utf8)
        requestID = context.channel.allocator.buffer(capacity: 64)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffer == nil { buffer = bytes } else { buffer!.writeBuffer(&bytes) }
        guard let b = buffer else { return }
        let now = NIODeadline.now()
        var upstreamHead: ByteBuffer?
        var status = 0
        b.withUnsafeReadableBytes { raw in
            // The request line: method SP target SP HTTP/1.x CRLF.
            guard let lf = raw.firstIndex(of: 10) else { return }
            guard lf > 0, raw[lf - 1] == 13 else { return status = 400 }
            guard let sp1 = raw[..<lf].firstIndex(of: 32), sp1 > 0 else { return status = 400 }
            for i in 0..<sp1 where !leanTchar[Int(raw[i])] { return status = 400 }
            guard let sp2 = raw[(sp1 + 1)..<lf].firstIndex(of: 32), sp2 > sp1 + 1, raw[sp1 + 1] == UInt8(ascii: "/") else {
                return status = 400
            }
            var dotSegmentsOrEscapes = false
            for i in (sp1 + 1)..<sp2 {
                let c = raw[i]
                guard c > 32, c != 127 else { return status = 400 }
                if c == UInt8(ascii: "%") || (c == UInt8(ascii: ".") && raw[i - 1] == UInt8(ascii: "/")) { dotSegmentsOrEscapes = true }
                if c == UInt8(ascii: "?") { break }
            }
            // A path that would need normalising (dot segments, escapes) is refused here: the bench's path needs none.
            if dotSegmentsOrEscapes { return status = 400 }
            guard lf - 1 - (sp2 + 1) == 8, leanEquals(raw, sp2 + 1, sp2 + 8, "http/1."), raw[sp2 + 8] == UInt8(ascii: "1") else {
                return status = 400
            }
            guard let end = leanParseFields(raw, from: lf + 1, into: &fields) else {
                // Incomplete (or malformed: this tool does not tell them apart and waits).
                return
            }
            buffer = nil
            if state.strings {
                upstreamHead = stringsPath(raw, sp1: sp1, sp2: sp2, now: now, status: &status)
                return
            }
            var host: (Int, Int)?
            var priorFor: (Int, Int)?
            var id: (Int, Int)?
            for f in fields {
                let s = Int(f.nameStart), e = Int(f.nameEnd)
                switch leanRequestKind(raw, s, e) {
                case .host: if host == nil { host = (Int(f.valueStart), Int(f.valueEnd)) }
                case .connection: if leanEquals(raw, Int(f.valueStart), Int(f.valueEnd), "close") { keepAlive = false }
                case .forwardedFor: priorFor = (Int(f.valueStart), Int(f.valueEnd))
                case .requestID: id = (Int(f.valueStart), Int(f.valueEnd))
                default: break
                }
            }
            guard let host else { return status = 400 }
            let pathEnd = raw[(sp1 + 1)..<sp2].firstIndex(of: UInt8(ascii: "?")) ?? sp2
            guard state.route(host: UnsafeRawBufferPointer(rebasing: raw[host.0..<host.1]), path: UnsafeRawBufferPointer(rebasing: raw[(sp1 + 1)..<pathEnd])) != nil else {
                return status = 404
            }
            requestID.clear()
            if let id, id.1 - id.0 <= 64 {
                requestID.writeBytes(UnsafeRawBufferPointer(rebasing: raw[id.0..<id.1]))
            } else {
                state.requestID(into: &requestID)
            }
            guard let picked = state.pick(at: now) else { return status = 503 }
            endpoint = picked
            started = now
            headDeadline = now + .seconds(60)
            var out = context.channel.allocator.buffer(capacity: 384 + end)
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[0..<(sp2 + 1)]))
            out.writeStaticString("HTTP/1.1\r\n")
            for f in fields where leanRequestKind(raw, Int(f.nameStart), Int(f.nameEnd)) == .keep {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[Int(f.nameStart)..<Int(f.nameEnd)]))
                out.writeStaticString(": ")
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[Int(f.valueStart)..<Int(f.valueEnd)]))
                out.writeStaticString("\r\n")
            }
            let hostValue = UnsafeRawBufferPointer(rebasing: raw[host.0..<host.1])
            out.writeStaticString("host: ")
            out.writeBytes(hostValue)
            out.writeStaticString("\r\nx-forwarded-for: ")
            if let priorFor {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[priorFor.0..<priorFor.1]))
                out.writeStaticString(", ")
            }
            out.writeBytes(clientIP)
            out.writeStaticString("\r\nx-forwarded-proto: http\r\nx-forwarded-host: ")
            out.writeBytes(hostValue)
            out.writeStaticString("\r\nforwarded: for=")
            out.writeBytes(clientIP)
            out.writeStaticString(";proto=http;host=")
            out.writeBytes(hostValue)
            out.writeStaticString("\r\nvia: 1.1 meridian\r\n\r\n")
            upstreamHead = out
        }
        if status != 0 {
            buffer = nil
            var out = context.channel.allocator.buffer(capacity: 64)
            out.writeString("HTTP/1.1 \(status) Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in self.context.close(promise: nil) }
            return
        }
        guard let upstreamHead else { return }
        var exchange: LeanExchange?
        if state.objects {
            let e = LeanExchange(client: self)
            e.receiver = { [self] response in answer(response) }
            exchange = e
        }
        if let upstream = state.pool.idle.popLast() {
            upstream.send(upstreamHead, for: self, exchange: exchange)
        } else {
            state.pool.connect(state) { upstream in upstream.send(upstreamHead, for: self, exchange: exchange) }
        }
    }

    /// `--lean-strings`: the head as `HTTPRequestHead` of `String`s, its fields read from it for the upstream head.
    private func stringsPath(_ raw: UnsafeRawBufferPointer, sp1: Int, sp2: Int, now: NIODeadline, status: inout Int) -> ByteBuffer? {
        func text(_ a: Int32, _ b: Int32) -> String { String(decoding: raw[Int(a)..<Int(b)], as: UTF8.self) }
        var headers = HTTPHeaders()
        headers.reserveCapacity(fields.count)
        for f in fields { headers.add(name: text(f.nameStart, f.nameEnd), value: text(f.valueStart, f.valueEnd)) }
        let head = HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: String(decoding: raw[0..<sp1], as: UTF8.self)),
            uri: String(decoding: raw[(sp1 + 1)..<sp2], as: UTF8.self), headers: headers
        )
        self.head = head
        var host: String?
        var priorFor: String?
        var id: String?
        for (name, value) in head.headers {
            switch leanRequestKind(name) {
            case .host: if host == nil { host = value }
            case .connection: if value.lowercased() == "close" { keepAlive = false }
            case .forwardedFor: priorFor = value
            case .requestID: id = value
            default: break
            }
        }
        guard let host else {
            status = 400
            return nil
        }
        var hostText = host
        var uri = head.uri
        let routed = hostText.withUTF8 { h in
            uri.withUTF8 { u in
                state.route(host: UnsafeRawBufferPointer(h), path: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(u)[..<(u.firstIndex(of: UInt8(ascii: "?")) ?? u.count)]))
            }
        }
        guard routed != nil else {
            status = 404
            return nil
        }
        requestID.clear()
        if let id, id.utf8.count <= 64 { requestID.writeString(id) } else { state.requestID(into: &requestID) }
        guard let picked = state.pick(at: now) else {
            status = 503
            return nil
        }
        endpoint = picked
        started = now
        headDeadline = now + .seconds(60)
        var out = context.channel.allocator.buffer(capacity: 640)
        out.writeString(head.method.rawValue)
        out.writeStaticString(" ")
        out.writeString(head.uri)
        out.writeStaticString(" HTTP/1.1\r\n")
        for (name, value) in head.headers where leanRequestKind(name) == .keep {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("host: ")
        out.writeString(host)
        out.writeStaticString("\r\nx-forwarded-for: ")
        if let priorFor {
            out.writeString(priorFor)
            out.writeStaticString(", ")
        }
        out.writeBytes(clientIP)
        out.writeStaticString("\r\nx-forwarded-proto: http\r\nx-forwarded-host: ")
        out.writeString(host)
        out.writeStaticString("\r\nforwarded: for=")
        out.writeBytes(clientIP)
        out.writeStaticString(";proto=http;host=")
        out.writeString(host)
        out.writeStaticString("\r\nvia: 1.1 meridian\r\n\r\n")
        return out
    }

    func answer(_ response: ByteBuffer) {
        head = nil
        context.writeAndFlush(wrapOutboundOut(response), promise: nil)
        if !keepAlive { context.close(promise: nil) }
    }
}

/// `--lean-objects`: one object per request, with the request's state and the closure its answer goes through.
final class LeanExchange {
    let client: LeanClientHandler
    let requestID: ByteBuffer
    let endpoint: Int
    let started: NIODeadline
    let headDeadline: NIODeadline
    let head: HTTPRequestHead?
    var receiver: ((ByteBuffer) -> Void)?

    init(client: LeanClientHandler) {
        self.client = client
        self.requestID = client.requestID
        self.endpoint = client.endpoint
        self.started = client.started
        self.headDeadline = client.headDeadline
        self.head = client.head
    }
}

final class LeanUpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    unowned let state: LeanState
    var context: ChannelHandlerContext!
    var buffer: ByteBuffer?
    var client: LeanClientHandler?
    var exchange: LeanExchange?
    var fields: [LeanField] = []
    init(state: LeanState) { self.state = state }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func send(_ head: ByteBuffer, for client: LeanClientHandler, exchange: LeanExchange?) {
        if let exchange { self.exchange = exchange } else { self.client = client }
        context.writeAndFlush(wrapOutboundOut(head), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffer == nil { buffer = bytes } else { buffer!.writeBuffer(&bytes) }
        guard let b = buffer, exchange != nil || client != nil else { return }
        let requestID = exchange?.requestID ?? client!.requestID
        var response: ByteBuffer?
        var status = 0
        b.withUnsafeReadableBytes { raw in
            // HTTP/1.x SP 3DIGIT SP reason CRLF
            guard let lf = raw.firstIndex(of: 10), lf >= 13 else { return }
            guard leanEquals(raw, 0, 7, "http/1."), raw[8] == 32 else { return status = 502 }
            var code = 0
            for i in 9..<12 {
                guard raw[i] >= 48 && raw[i] <= 57 else { return status = 502 }
                code = code * 10 + Int(raw[i] - 48)
            }
            guard let end = leanParseFields(raw, from: lf + 1, into: &fields) else { return }
            var length = -1
            for f in fields where leanResponseKind(raw, Int(f.nameStart), Int(f.nameEnd)) == .contentLength {
                var v = 0
                for i in Int(f.valueStart)..<Int(f.valueEnd) {
                    guard raw[i] >= 48 && raw[i] <= 57 else { return status = 502 }
                    v = v * 10 + Int(raw[i] - 48)
                }
                length = v
            }
            guard length >= 0 else { return status = 502 }  // (chunked: not in this tool)
            guard raw.count >= end + length else { return }  // the body is gathered first
            status = code
            var out = context.channel.allocator.buffer(capacity: end + length + 160)
            out.writeStaticString("HTTP/1.1 ")
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[9..<(lf - 1)]))
            out.writeStaticString("\r\n")
            for f in fields where leanResponseKind(raw, Int(f.nameStart), Int(f.nameEnd)) == .keep {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[Int(f.nameStart)..<Int(f.nameEnd)]))
                out.writeStaticString(": ")
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[Int(f.valueStart)..<Int(f.valueEnd)]))
                out.writeStaticString("\r\n")
            }
            out.writeStaticString("date: ")
            state.writeDate(into: &out)
            out.writeStaticString("\r\nserver: meridian\r\nx-request-id: ")
            out.writeImmutableBuffer(requestID)
            out.writeStaticString("\r\ncontent-length: ")
            out.writeString(String(length))
            out.writeStaticString("\r\n\r\n")
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[end..<(end + length)]))
            response = out
        }
        guard let response else {
            if status != 0 { context.close(promise: nil) }  // a malformed response (this tool answers nothing)
            return
        }
        buffer = nil
        let now = NIODeadline.now()
        if let e = exchange {
            exchange = nil
            if now > e.headDeadline { state.late += 1 }
            state.finished(e.endpoint, status: status, started: e.started, at: now)
            _ = NIODeadline.now()  // (the record's end: Meridian reads the clock for its duration)
            state.pool.idle.append(self)
            let receiver = e.receiver
            e.receiver = nil
            receiver?(response)
        } else if let c = client {
            client = nil
            if now > c.headDeadline { state.late += 1 }
            state.finished(c.endpoint, status: status, started: c.started, at: now)
            _ = NIODeadline.now()
            state.pool.idle.append(self)
            c.answer(response)
        }
    }
}
