internal import Atomics
internal import MeridianConfig
internal import MeridianCore
internal import NIOCore
internal import NIOHTTP1
internal import NIOHTTP2
internal import NIOPosix

/// Keep-alive connections to one endpoint on one event loop (Envoy keeps one pool per worker so
/// the proxy path takes no lock): idle ones reused newest first (warm, and the oldest age out),
/// at most `max_connections` open, waiters served in order when one frees up, idle ones closed
/// after `idle_timeout`, and none lent past `max_requests_per_connection`. Confined to its loop
/// (its callbacks are futures and tasks of that loop): hence the unchecked `Sendable`.
final class EndpointPool: @unchecked Sendable {
    let eventLoop: any EventLoop
    let endpoint: Int
    private let settings: Configuration.Upstream.Pool
    private let connectTimeout: Duration
    /// Where to connect; DNS re-resolution replaces it (connections open keep their address).
    var address: SocketAddress?
    private var idle: [UpstreamConnection] = []
    /// Connections open or being opened (idle and lent included).
    private(set) var open = 0
    private var waiters = CircularBuffer<Waiter>()
    private(set) var lent = 0

    struct Waiter {
        let promise: EventLoopPromise<UpstreamConnection>
        let timer: Scheduled<Void>
    }

    let stats: EndpointStats
    let tls: UpstreamTLSContext?
    /// HTTP/2 to the endpoint: one multiplexed connection, a stream per request.
    let http2: Bool
    private var session: (channel: any Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer)?
    private var sessionPending: EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer>?
    /// The loop's clock, for the idle marks (taken on the loop at first use: the pool may be built off it).
    private lazy var clock = LoopClock.of(eventLoop)

    init(
        eventLoop: any EventLoop, endpoint: Int, address: SocketAddress?, settings: Configuration.Upstream.Pool, connectTimeout: Duration,
        stats: EndpointStats, tls: UpstreamTLSContext?, http2: Bool = false
    ) {
        self.stats = stats
        self.tls = tls
        self.http2 = http2
        self.eventLoop = eventLoop
        self.endpoint = endpoint
        self.address = address
        self.settings = settings
        self.connectTimeout = connectTimeout
    }

    /// Whether ``acquire()`` would wait for a connection to free up.
    var wouldQueue: Bool { !http2 && idle.isEmpty && open >= settings.maxConnections }

    /// A connection to lend: an idle one, a new one, or the next to free up (failing after the
    /// connect timeout).
    func acquire() -> EventLoopFuture<UpstreamConnection> {
        if http2 { return openStream() }
        if let connection = takeIdle() { return eventLoop.makeSucceededFuture(connection) }
        if open < settings.maxConnections { return connect() }
        let promise = eventLoop.makePromise(of: UpstreamConnection.self)
        let timer = eventLoop.scheduleTask(in: TimeAmount(connectTimeout)) { [self] in
            if let i = self.waiters.firstIndex(where: { $0.promise.futureResult === promise.futureResult }) {
                self.waiters.remove(at: i)
            }
            promise.fail(ProxyFailure(.connectTimeout, "no connection to the endpoint freed up within \(self.connectTimeout)"))
        }
        waiters.append(Waiter(promise: promise, timer: timer))
        return promise.futureResult
    }

    /// An idle connection, lent at once (no future: the common case of a warm pool).
    func takeIdle() -> UpstreamConnection? {
        guard !http2 else { return nil }
        while let connection = idle.popLast() {
            stats.idleConnections.wrappingDecrement(ordering: .relaxed)
            if connection.isActive {
                lent += 1
                return connection
            }
        }
        return nil
    }

    /// Takes a lent connection back: idle for the next request, to a waiter, or closed.
    func release(_ connection: UpstreamConnection) {
        lent -= 1
        if connection.isStream {
            // A stream is used once; one cut short is reset (closing the stream channel does).
            if !connection.reusable { connection.close() }
            return
        }
        guard connection.reusable, connection.isActive, connection.requestsSent < settings.maxRequestsPerConnection else {
            connection.close()
            return
        }
        if let waiter = waiters.popFirst() {
            waiter.timer.cancel()
            lent += 1
            waiter.promise.succeed(connection)
            return
        }
        guard idle.count < settings.maxIdle else {
            connection.close()
            return
        }
        connection.idleSince = clock.deadline
        idle.append(connection)
        stats.idleConnections.wrappingIncrement(ordering: .relaxed)
        armSweep()
    }

    /// One timer per pool, not one per idle connection: a request no longer schedules and cancels
    /// a timer each time it borrows and returns a connection. Idle connections close between one
    /// and one and a half idle timeouts after they went idle (nginx checks keepalive_timeout alike).
    /// Its task holds the pool strongly (see `connect`'s onClose for why not weakly); it stops re-arming once no
    /// connection is idle, so a dropped pool lives at most until its idle connections have timed out.
    private var sweep: Scheduled<Void>?

    private func armSweep() {
        guard sweep == nil, !idle.isEmpty else { return }
        let timeout = TimeAmount(settings.idleTimeout)
        sweep = eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds / 2)) { [self] in
            self.sweep = nil
            let now = NIODeadline.now()
            // The oldest are first (connections are reused newest first).
            while let oldest = self.idle.first, now - oldest.idleSince >= timeout {
                self.idle.removeFirst()
                self.stats.idleConnections.wrappingDecrement(ordering: .relaxed)
                oldest.close()
            }
            self.armSweep()
        }
    }

    /// A lent connection leaves the pool for good (it became an upgrade tunnel); it still counts as
    /// open until it closes.
    func detach(_ connection: UpstreamConnection) {
        lent -= 1
        connection.reusable = false
    }

    /// Closes idle connections (a reload dropped the cluster, or the endpoint's address changed).
    func closeIdle() {
        if let session, lent == 0 {
            self.session = nil
            session.channel.close(promise: nil)
        }
        let connections = idle
        idle = []
        stats.idleConnections.wrappingDecrement(by: connections.count, ordering: .relaxed)
        for c in connections { c.close() }
    }

    private func connect() -> EventLoopFuture<UpstreamConnection> {
        guard let address else {
            return eventLoop.makeFailedFuture(ProxyFailure(.connectFailure, "the endpoint's name did not resolve"))
        }
        open += 1
        let handler = NIOLoopBound(UpstreamConnectionHandler(eventLoop: eventLoop), eventLoop: eventLoop)
        let endpoint = self.endpoint
        let tls = self.tls
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.handler(for: endpoint)) }
                    // Meridian's own HTTP/1.1 codec (UpstreamHTTP1Codec), not NIO's encoder and decoder. No outbound
                    // header validation: what goes upstream is the client's head, already checked by Meridian's parser,
                    // plus validated configuration.
                    let codec = UpstreamHTTP1Codec()
                    codec.filtersResponseFields = true
                    try channel.pipeline.syncOperations.addHandler(codec)
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                    // Adjacent in the pipeline: parts pass between the two as direct calls.
                    codec.receiver = handler.value
                    handler.value.codec = codec
                }
            }
            .connect(to: address)
            .flatMapErrorThrowing { error in
                self.open -= 1
                self.serveWaiterAfterClose()
                if let e = error as? ChannelError, case .connectTimeout = e {
                    throw ProxyFailure(.connectTimeout, "connecting to \(address) took longer than \(self.connectTimeout)")
                }
                throw ProxyFailure(.connectFailure, "connecting to \(address): \(error)")
            }
            .map { channel in
                let connection = UpstreamConnection(channel: channel, endpoint: endpoint, handler: handler.value)
                // Strong captures: the handler drops this closure when it runs (the channel closed), and a weak
                // reference would give the pool and the connection side tables, which put every retain of them
                // on the request path on the runtime's slow path.
                handler.value.onClose = { [self, connection] in
                    self.open -= 1
                    self.stats.openConnections.wrappingDecrement(ordering: .relaxed)
                    if let i = self.idle.firstIndex(where: { $0 === connection }) {
                        self.idle.remove(at: i)
                        self.stats.idleConnections.wrappingDecrement(ordering: .relaxed)
                    }
                    self.serveWaiterAfterClose()
                }
                self.lent += 1
                self.stats.openConnections.wrappingIncrement(ordering: .relaxed)
                return connection
            }
    }

    /// A slot freed: the first waiter gets a new connection.
    private func serveWaiterAfterClose() {
        guard open < settings.maxConnections, let waiter = waiters.popFirst() else { return }
        waiter.timer.cancel()
        connect().cascade(to: waiter.promise)
    }

    /// A new stream on the endpoint's HTTP/2 connection (made first when there is none): NIOHTTP2's
    /// HTTP/1 client codec on it, so the exchange speaks the same parts as over HTTP/1.1, with
    /// trailers both ways.
    private func openStream() -> EventLoopFuture<UpstreamConnection> {
        let endpoint = self.endpoint
        let scheme: HTTP2FramePayloadToHTTP1ClientCodec.HTTPProtocol = tls == nil ? .http : .https
        return multiplexer().flatMap { multiplexer in
            let handler = NIOLoopBound(UpstreamConnectionHandler(eventLoop: self.eventLoop), eventLoop: self.eventLoop)
            return multiplexer.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: scheme))
                    try stream.pipeline.syncOperations.addHandler(handler.value)
                }
            }
            .flatMapErrorThrowing { error in throw ProxyFailure(.connectFailure, "opening a stream: \(error)") }
            .map { stream in
                let connection = UpstreamConnection(channel: stream, endpoint: endpoint, handler: handler.value)
                connection.isStream = true
                self.lent += 1
                return connection
            }
        }
    }

    /// The endpoint's HTTP/2 connection, connecting when there is none (requests that come while it
    /// connects wait for the same one).
    private func multiplexer() -> EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer> {
        if let session, session.channel.isActive { return eventLoop.makeSucceededFuture(session.multiplexer) }
        if let sessionPending { return sessionPending }
        guard let address else {
            return eventLoop.makeFailedFuture(ProxyFailure(.connectFailure, "the endpoint's name did not resolve"))
        }
        open += 1
        let endpoint = self.endpoint
        let tls = self.tls
        let box = NIOLoopBound(MultiplexerBox(), eventLoop: eventLoop)
        let pending = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.handler(for: endpoint)) }
                    box.value.multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()
                    ) { stream in stream.close() }  // servers do not open streams (no push)
                }
            }
            .connect(to: address)
            .flatMapErrorThrowing { error in
                self.open -= 1
                self.sessionPending = nil
                if let e = error as? ChannelError, case .connectTimeout = e {
                    throw ProxyFailure(.connectTimeout, "connecting to \(address) took longer than \(self.connectTimeout)")
                }
                throw ProxyFailure(.connectFailure, "connecting to \(address): \(error)")
            }
            .flatMapThrowing { channel -> NIOHTTP2Handler.StreamMultiplexer in
                guard let multiplexer = box.value.multiplexer else { throw ProxyFailure(.connectFailure, "no HTTP/2 multiplexer") }
                self.sessionPending = nil
                self.session = (channel, multiplexer)
                self.stats.openConnections.wrappingIncrement(ordering: .relaxed)
                channel.closeFuture.whenComplete { _ in
                    self.open -= 1
                    self.stats.openConnections.wrappingDecrement(ordering: .relaxed)
                    if self.session?.channel === channel { self.session = nil }
                }
                return multiplexer
            }
        sessionPending = pending
        return pending
    }

    final class MultiplexerBox {
        var multiplexer: NIOHTTP2Handler.StreamMultiplexer?
    }

    /// The largest response head taken from an upstream; larger is a 502.
    static let maxResponseHead = 64 * 1024
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
