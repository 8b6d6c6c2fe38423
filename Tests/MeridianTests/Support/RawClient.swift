import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// A test client that speaks raw bytes over a real TCP socket, so tests can send exactly what a
/// hostile or unusual client would (pipelined requests, split heads, smuggling attempts).
final class RawClient: Sendable {
    let channel: any Channel
    private let inbox: Inbox

    /// Bytes received, shared between the NIO thread and the test task; waiters are woken on change.
    final class Inbox: @unchecked Sendable {  // every field is guarded by `lock`
        private let lock = NSLock()
        private var buffer: [UInt8] = []
        private var closed = false
        private var version = 0
        private var waiters: [(Int, CheckedContinuation<Void, Never>)] = []

        func append(_ bytes: ByteBuffer) { change { $0.buffer.append(contentsOf: bytes.readableBytesView) } }
        private(set) var handshake: (done: Bool, alpn: String?) = (false, nil)
        func negotiated(_ proto: String?) { change { $0.handshake = (true, proto) } }
        var handshakeState: (done: Bool, alpn: String?) { lock.lock(); defer { lock.unlock() }; return handshake }
        func markClosed() { change { $0.closed = true } }
        func wake() { change { _ in } }

        private func change(_ body: (Inbox) -> Void) {
            lock.lock()
            body(self)
            version += 1
            let ready = waiters
            waiters = []
            lock.unlock()
            for (_, c) in ready { c.resume() }
        }

        func snapshot() -> (bytes: [UInt8], closed: Bool, version: Int) {
            lock.lock()
            defer { lock.unlock() }
            return (buffer, closed, version)
        }

        func consume(_ n: Int) {
            lock.lock()
            buffer.removeFirst(n)
            lock.unlock()
        }

        func wait(after version: Int) async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                lock.lock()
                if self.version != version {
                    lock.unlock()
                    c.resume()
                } else {
                    waiters.append((version, c))
                    lock.unlock()
                }
            }
        }
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let inbox: Inbox
        init(_ inbox: Inbox) { self.inbox = inbox }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { inbox.append(unwrapInboundIn(data)) }
        func channelInactive(context: ChannelHandlerContext) { inbox.markClosed() }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let e = event as? ChannelEvent, e == .inputClosed { inbox.markClosed() }
            if case TLSUserEvent.handshakeCompleted(let proto) = event { inbox.negotiated(proto) }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }

    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    struct TLS {
        var serverName: String?
        var caPath: String
        var alpn: [String] = ["http/1.1"]
        var maximumVersion: TLSVersion? = nil
        var clientCertificate: (cert: String, key: String)? = nil
        var verifyHostname = true
    }

    static func connect(port: Int, host: String = "127.0.0.1", tls: TLS? = nil) async throws -> RawClient {
        let inbox = Inbox()
        let sslContext: NIOSSLContext?
        if let tls {
            var config = TLSConfiguration.makeClientConfiguration()
            config.trustRoots = .file(tls.caPath)
            config.applicationProtocols = tls.alpn
            if let max = tls.maximumVersion {
                config.maximumTLSVersion = max
                config.minimumTLSVersion = .tlsv1
            }
            if let client = tls.clientCertificate {
                config.certificateChain = try NIOSSLCertificate.fromPEMFile(client.cert).map { .certificate($0) }
                config.privateKey = .privateKey(try NIOSSLPrivateKey(file: client.key, format: .pem))
            }
            if tls.serverName == nil || !tls.verifyHostname { config.certificateVerification = .noHostnameVerification }
            sslContext = try NIOSSLContext(configuration: config)
        } else {
            sslContext = nil
        }
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: tls?.serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(Collector(inbox))
                }
            }
            .connect(host: host, port: port).get()
        return RawClient(channel: channel, inbox: inbox)
    }

    /// Sends `request` on a fresh connection, reads one response, and closes the connection
    /// (awaited) however that went.
    static func exchange(port: Int, _ request: String, timeout: Duration = .seconds(10)) async throws -> TestResponse {
        let c = try await connect(port: port)
        let response: Result<TestResponse, any Error>
        do {
            try await c.send(request)
            response = .success(try await c.readResponse(timeout: timeout))
        } catch {
            response = .failure(error)
        }
        await c.close()
        return try response.get()
    }

    /// Waits for the TLS handshake; the negotiated ALPN protocol. Throws when it failed.
    func handshake(timeout: Duration = .seconds(10)) async throws -> String? {
        _ = await waitUntil(timeout: timeout) { [inbox] _, _ in inbox.handshakeState.done }
        let state = inbox.handshakeState
        guard state.done else { throw TestError("TLS handshake did not complete") }
        return state.alpn
    }

    /// The DNS names of the certificate the server presented.
    func peerNames() async throws -> [String] {
        guard let cert = try await channel.nioSSL_peerCertificate().get() else { return [] }
        return cert._subjectAlternativeNames().filter { $0.nameType == .dnsName }.map { String(decoding: Array($0.contents), as: UTF8.self) }
    }

    private init(channel: any Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    func send(_ text: String) async throws { try await channel.writeAndFlush(ByteBuffer(string: text)) }
    func send(bytes: [UInt8]) async throws { try await channel.writeAndFlush(ByteBuffer(bytes: bytes)) }

    /// Sends one byte at a time, each in its own segment.
    func sendSlowly(_ text: String) async throws {
        for b in text.utf8 { try await send(bytes: [b]) }
    }

    func shutdownOutput() async throws { try await channel.close(mode: .output) }
    /// Stops reading from the socket (a client that no longer reads what it asked for).
    func stopReading() async throws { try await channel.setOption(.autoRead, value: false).get() }
    /// Reads again after ``stopReading()``.
    func resumeReading() async throws {
        try await channel.setOption(.autoRead, value: true).get()
        channel.read()
    }
    func close() async { try? await channel.close() }

    /// Waits until `condition` holds for the received bytes or `timeout` passes.
    private func waitUntil(timeout: Duration, _ condition: ([UInt8], Bool) -> Bool) async -> ([UInt8], Bool) {
        let wake = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)) { [inbox] in
            inbox.wake()
        }
        defer { wake.cancel() }
        let deadline = ContinuousClock.now + timeout
        while true {
            let (bytes, closed, version) = inbox.snapshot()
            if condition(bytes, closed) || closed || ContinuousClock.now >= deadline { return (bytes, closed) }
            await inbox.wait(after: version)
        }
    }

    /// Reads one complete response. `head: true` for answers to HEAD (no body whatever the length).
    func readResponse(head: Bool = false, timeout: Duration = .seconds(10)) async throws -> TestResponse {
        let (bytes, closed) = await waitUntil(timeout: timeout) { bytes, closed in
            TestResponse.parse(bytes, isHead: head, closed: closed) != nil
        }
        guard let (response, used) = TestResponse.parse(bytes, isHead: head, closed: closed) else {
            let what = closed ? "connection closed before a full response" : "no full response in time"
            throw TestError("\(what); have \(bytes.count) bytes: \(String(decoding: bytes.prefix(300), as: UTF8.self))")
        }
        inbox.consume(used)
        return response
    }

    /// Waits until the server closes the connection; true if it did within the timeout.
    func waitForClose(timeout: Duration = .seconds(10)) async -> Bool {
        await waitUntil(timeout: timeout) { _, closed in closed }.1
    }

    /// Bytes received and not yet consumed.
    var pending: [UInt8] { inbox.snapshot().bytes }

    /// Drops what has been received so far.
    func consumeAll() { inbox.consume(pending.count) }

    /// Drops the first `count` bytes received.
    func consume(_ count: Int) { inbox.consume(count) }

    /// Reads until `count` bytes are buffered or the connection closes.
    func readBytes(atLeast count: Int, timeout: Duration = .seconds(10)) async -> [UInt8] {
        await waitUntil(timeout: timeout) { bytes, _ in bytes.count >= count }.0
    }

    /// Waits (woken by each arrival, not by polling) until `condition` holds for the bytes received
    /// and not yet consumed, the connection closes, or `timeout` passes; those bytes.
    func readUntil(timeout: Duration = .seconds(10), _ condition: ([UInt8]) -> Bool) async -> [UInt8] {
        await waitUntil(timeout: timeout) { bytes, _ in condition(bytes) }.0
    }
}

/// Checks `condition` every `interval` until it holds or `timeout` passes; whether it held. For
/// state a test can only poll (a counter, a file, a scrape): never a fixed sleep before asserting.
func eventually(
    timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(25), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try await Task.sleep(for: interval)
    }
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A parsed HTTP/1.1 response.
struct TestResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        headers.first(where: { $0.0.lowercased() == name.lowercased() })?.1
    }

    func headers(_ name: String) -> [String] {
        headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }

    /// Parses one response from the front of `bytes`; nil while incomplete.
    static func parse(_ bytes: [UInt8], isHead: Bool, closed: Bool) -> (TestResponse, Int)? {
        guard bytes.count >= 4 else { return nil }
        var end: Int?
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            end = i
            break
        }
        guard let end else { return nil }
        let head = String(decoding: bytes[0..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let bodyStart = end + 4
        let response = TestResponse(status: status, headers: headers, body: [])
        if isHead || status < 200 || status == 204 || status == 304 {
            return (response, bodyStart)
        }
        if let cl = response.header("content-length").flatMap(Int.init) {
            guard bytes.count - bodyStart >= cl else { return nil }
            var r = response
            r.body = Array(bytes[bodyStart..<(bodyStart + cl)])
            return (r, bodyStart + cl)
        }
        if response.header("transfer-encoding")?.lowercased() == "chunked" {
            guard let (body, consumed) = dechunk(bytes, from: bodyStart) else { return nil }
            var r = response
            r.body = body
            return (r, consumed)
        }
        guard closed else { return nil }
        var r = response
        r.body = Array(bytes[bodyStart...])
        return (r, bytes.count)
    }

    /// A chunked body from `start`: its bytes and where it ended; nil while incomplete.
    static func dechunk(_ bytes: [UInt8], from start: Int) -> ([UInt8], Int)? {
        var body: [UInt8] = []
        var i = start
        while true {
            guard let lineEnd = (i..<max(i, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else { return nil }
            let sizeText = String(decoding: bytes[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            i = lineEnd + 2
            if size == 0 {
                // Trailers, then the empty line.
                while true {
                    guard let end = (i..<max(i, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else { return nil }
                    let empty = end == i
                    i = end + 2
                    if empty { return (body, i) }
                }
            }
            guard bytes.count >= i + size + 2 else { return nil }
            body.append(contentsOf: bytes[i..<(i + size)])
            i += size + 2
        }
    }
}
