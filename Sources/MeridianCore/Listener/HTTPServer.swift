public import Logging
internal import NIOConcurrencyHelpers
public import NIOCore
internal import NIOHTTP1
internal import NIOHTTP2
internal import NIOPosix
internal import NIOSSL
internal import NIOTLS
#if canImport(Glibc)
internal import Glibc
#endif
public import Atomics

/// The listening side of Meridian: binds listeners, accepts within the connection limit, builds
/// each connection's pipeline, and drains connections on shutdown.
///
/// With `reuse_port` (the default) every event loop binds its own socket to the address with
/// SO_REUSEPORT, so the kernel spreads accepts and no loop hands a connection to another.
public final class HTTPServer: Sendable {
    public struct BoundListener: Sendable {
        public var name: String
        public var address: SocketAddress
    }

    /// Everything a listener's connections are built from, fixed when it binds.
    struct ListenerSetup: Sendable {
        var config: ListenerSettings
        var context: ListenerContext
        var box: RuntimeBox
        var tls: TLSCertificateStore?
        var sslContext: NIOSSLContext?
    }

    private struct State {
        var listeners: [any Channel] = []
        var certificateStores: [TLSCertificateStore] = []
        var reloadTasks: [RepeatedTask] = []
        var connections: [ObjectIdentifier: any Channel] = [:]
        var draining = false
        var drained: EventLoopPromise<Void>?
    }

    private let group: any EventLoopGroup
    private let runtimeBox: RuntimeBox
    public let services: ConnectionServices
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    public let openConnections = ManagedAtomic<Int>(0)
    public let acceptedConnections = ManagedAtomic<Int>(0)
    public let refusedConnections = ManagedAtomic<Int>(0)

    /// Answers every request of a listener with `redirect: TARGET` (the redirect action lives
    /// outside Core); nil refuses such listeners.
    private let redirectResponder: (@Sendable (String) -> any Responder)?

    public init(
        group: any EventLoopGroup, runtimeBox: RuntimeBox, services: ConnectionServices, logger: Logger,
        redirectResponder: (@Sendable (String) -> any Responder)? = nil
    ) {
        self.redirectResponder = redirectResponder
        self.group = group
        self.runtimeBox = runtimeBox
        self.services = services
        self.logger = logger
    }

    /// Binds every listener; on failure closes what was bound and throws.
    public func start(_ listeners: [ListenerSettings]) async throws -> [BoundListener] {
        var bound: [BoundListener] = []
        do {
            for listener in listeners {
                let setup = try makeSetup(listener)
                let address = try SocketAddress.makeAddressResolvingHost(listener.host, port: listener.port)
                let loops = listener.reusePort ? Array(group.makeIterator()) : [group.next()]
                var port = listener.port
                for loop in loops {
                    let target = try SocketAddress.makeAddressResolvingHost(address.ipAddress ?? listener.host, port: port)
                    let channel = try await bootstrap(setup, group: listener.reusePort ? loop : group).bind(to: target).get()
                    state.withLockedValue { $0.listeners.append(channel) }
                    if port == 0, let actual = channel.localAddress?.port { port = actual }
                    if bound.last?.name != listener.name || bound.isEmpty, let local = channel.localAddress {
                        bound.append(BoundListener(name: listener.name, address: local))
                        logger.info(
                            "listening",
                            metadata: [
                                "listener": "\(listener.name)", "address": "\(Self.describe(local))", "sockets": "\(loops.count)",
                                "tls": "\(listener.tls != nil)", "http2": "\(listener.tls != nil && listener.http2.enabled)",
                            ]
                        )
                    }
                }
            }
        } catch {
            await stopAccepting()
            throw error
        }
        return bound
    }

    /// `127.0.0.1:8080` / `[::1]:8080`.
    public static func describe(_ address: SocketAddress) -> String {
        let ip = address.ipAddress ?? "?"
        let port = address.port ?? 0
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    private func makeSetup(_ listener: ListenerSettings) throws -> ListenerSetup {
        var context = ListenerContext(name: listener.name, scheme: listener.tls == nil ? "http" : "https", canSendFile: listener.sendfile && listener.tls == nil)
        var box = runtimeBox
        if let target = listener.redirect {
            guard let redirectResponder else { throw ChannelError.operationUnsupported }
            box = RuntimeBox(Self.redirectRuntime(redirectResponder(target), basedOn: runtimeBox.current))
        }
        guard let tls = listener.tls else { return ListenerSetup(config: listener, context: context, box: box) }
        if let hsts = tls.hsts { context.extraHeaders.append(("strict-transport-security", hsts)) }
        let store = try TLSCertificateStore(tls, listener: listener.name)
        let ssl = try store.makeContext(alpn: listener.http2.enabled ? ["h2", "http/1.1"] : ["http/1.1"])
        let interval = TimeAmount(tls.reloadInterval)
        let pool = services.fileReader.threadPool
        let logger = self.logger
        let loop = group.next()
        let task = loop.scheduleRepeatedAsyncTask(initialDelay: interval, delay: interval) { _ in
            pool.runIfActive(eventLoop: loop) { store.reloadIfChanged(logger: logger) }
        }
        state.withLockedValue {
            $0.certificateStores.append(store)
            $0.reloadTasks.append(task)
        }
        return ListenerSetup(config: listener, context: context, box: box, tls: store, sslContext: ssl)
    }

    /// The runtime of a redirect-only listener: every request goes to `responder`.
    static func redirectRuntime(_ responder: any Responder, basedOn runtime: ServerRuntime) -> ServerRuntime {
        let route = Router.Route(pattern: .prefix("/"), responder: responder)
        return ServerRuntime(
            router: Router(hosts: [.init(names: [], isDefault: true, routes: [route])]), limits: runtime.limits,
            timeouts: runtime.timeouts, serverHeader: runtime.serverHeader, generation: runtime.generation,
            logger: runtime.logger, observers: runtime.observers, tracing: runtime.tracing
        )
    }

    /// The TLS certificate stores of the running listeners (for SIGHUP and metrics).
    public var certificateStores: [TLSCertificateStore] {
        state.withLockedValue { $0.certificateStores }
    }

    /// Checks every TLS certificate file now (SIGHUP); blocking, so off the event loops.
    public func reloadCertificates() async {
        let stores = certificateStores
        let logger = self.logger
        try? await services.fileReader.threadPool.runIfActive {
            for store in stores { store.reloadIfChanged(logger: logger) }
        }
    }

    private func bootstrap(_ setup: ListenerSetup, group: any EventLoopGroup) -> ServerBootstrap {
        let listener = setup.config
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(listener.backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        if listener.reusePort {
            bootstrap = bootstrap.serverChannelOption(ChannelOptions.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
        }
        if listener.tls == nil && !listener.http2.h2c {
            // NIO keeps a channel's receive buffer for the connection's whole life, idle or not
            // (its pooled receive allocator reuses it for the next read), and starts it at 2048
            // bytes: 40% of an idle HTTP/1.1 connection. 512 holds a typical request head; a read
            // that fills it grows it as before (to 64 KiB at most). Only where
            // HTTP1ConnectionHandler reads the socket itself: it copies what it keeps of a read, so
            // a head split across reads does not make NIO allocate and keep a second buffer. TLS
            // and h2c keep NIO's default (NIOSSL and NIOHTTP2 may hold a read across reads).
            bootstrap = bootstrap.childChannelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536)
            )
        }
        return bootstrap
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: listener.tls == nil)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.initialize(channel, setup) }.flatMap { $0 }
            }
    }

    private func initialize(_ channel: any Channel, _ setup: ListenerSetup) throws -> EventLoopFuture<Void> {
        let runtime = setup.box.current
        let admitted = state.withLockedValue { state -> Bool in
            guard !state.draining, state.connections.count < runtime.limits.maxConnections else { return false }
            state.connections[ObjectIdentifier(channel)] = channel
            return true
        }
        guard admitted else {
            refusedConnections.wrappingIncrement(ordering: .relaxed)
            channel.close(promise: nil)
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        acceptedConnections.wrappingIncrement(ordering: .relaxed)
        openConnections.wrappingIncrement(ordering: .relaxed)
        channel.closeFuture.whenComplete { [self] _ in self.connectionClosed(channel) }
        let sync = channel.pipeline.syncOperations
        // Until a protocol handler owns the connection (TLS handshake and ALPN, or the h2c
        // preface check) no HTTP timeout runs: this deadline stops a client that connects and
        // says nothing from holding a connection slot forever.
        let decided = ProtocolDecision()
        if setup.sslContext != nil || setup.config.http2.h2c {
            // (The channel captured strongly: a weak reference gives it a side table, and every retain and release of
            // it for the connection's life takes the Swift runtime's slow path. The task is cancelled when it closes.)
            let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(runtime.timeouts.headerRead)) {
                guard !decided.isDecided else { return }
                channel.close(promise: nil)
            }
            channel.closeFuture.whenComplete { _ in deadline.cancel() }
        }
        guard let ssl = setup.sslContext else {
            if setup.config.http2.h2c {
                let services = self.services
                let grace = TimeAmount(runtime.timeouts.idle)
                try sync.addHandler(
                    H2CPriorKnowledgeHandler(
                        http2: { channel in
                            decided.decide()
                            try Self.configureHTTP2(channel.pipeline.syncOperations, channel: channel, setup: setup, services: services, grace: grace)
                        },
                        http1: { channel in
                            decided.decide()
                            try channel.pipeline.syncOperations.addHandler(
                                HTTP1ConnectionHandler(runtimeBox: setup.box, services: services, listener: setup.context)
                            )
                        }
                    )
                )
            } else {
                try sync.addHandler(HTTP1ConnectionHandler(runtimeBox: setup.box, services: services, listener: setup.context))
            }
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        try sync.addHandler(NIOSSLServerHandler(context: ssl))
        try sync.addHandler(TLSWriteCoalescer())
        try sync.addHandler(TLSErrorHandler(store: setup.tls, services: services, logger: logger))
        let services = self.services
        guard setup.config.http2.enabled else {
            // HTTP/1.1 only: its header-read timer starts with the first decrypted byte; the
            // handshake itself is covered by the deadline above until then.
            try sync.addHandler(DecisionMarker(decided))
            try sync.addHandler(HTTP1ConnectionHandler(runtimeBox: setup.box, services: services, listener: setup.context))
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        let shutdownGrace = TimeAmount(runtime.timeouts.idle)
        try sync.addHandler(
            ApplicationProtocolNegotiationHandler { result, channel in
                decided.decide()
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    switch result {
                    case .negotiated("h2"):
                        try Self.configureHTTP2(sync, channel: channel, setup: setup, services: services, grace: shutdownGrace)
                    default:
                        try sync.addHandler(HTTP1ConnectionHandler(runtimeBox: setup.box, services: services, listener: setup.context))
                    }
                }
            }
        )
        return channel.eventLoop.makeSucceededVoidFuture()
    }

    /// HTTP/2 with swift-nio-http2's connection manager (idle timeout, graceful GOAWAY on drain) and
    /// its flood limits: rapid reset, CONTINUATION, control frames.
    static func configureHTTP2(
        _ sync: ChannelPipeline.SynchronousOperations, channel: any Channel, setup: ListenerSetup, services: ConnectionServices,
        grace: TimeAmount
    ) throws {
        let h2 = setup.config.http2
        let runtime = setup.box.current
        let manager = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(
                maxIdleTime: TimeAmount(runtime.timeouts.idle), maxAge: nil, maxGraceTime: grace,
                keepalive: h2.pingInterval.map { .init(pingInterval: TimeAmount($0), ackTimeout: TimeAmount(h2.pingTimeout)) }
            )
        )
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: h2.maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: h2.initialWindowSize),
            HTTP2Setting(parameter: .maxFrameSize, value: h2.maxFrameSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: h2.maxHeaderListSize),
            // RFC 8441: extended CONNECT, so responders can switch a stream to another protocol
            // (WebSocket over HTTP/2).
            HTTP2Setting(parameter: .enableConnectProtocol, value: 1),
        ]
        connection.maximumSequentialContinuationFrames = h2.maxContinuationFrames
        // Inbound header blocks are validated by HTTP2ConnectionHandler (see malformation(_:)).
        connection.headerBlockValidation = .disabled
        connection.controlFrameRateLimit.maximumCount = h2.maxControlFramesPerWindow
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = max(h2.initialWindowSize, 65535)
        stream.streamResetFrameRateLimit.maximumCount = h2.maxResetsPerWindow
        let goaway = GoawayObserver(grace: TimeAmount(runtime.timeouts.send))
        goaway.channel = channel
        channel.closeFuture.whenComplete { _ in goaway.channel = nil }  // (held strongly until then: see GoawayObserver)
        try sync.addHandler(HTTP2HalfClosedGuard(rememberedStreams: max(256, h2.maxConcurrentStreams * 2)))
        try sync.addHandler(
            NIOHTTP2Handler(mode: .server, frameDelegate: goaway, connectionConfiguration: connection, streamConfiguration: stream)
        )
        let filter = HTTP2StreamEventFilter()
        let streams = HTTP2ConnectionHandler(
            runtimeBox: setup.box, services: services, listener: setup.context, initialWindowSize: h2.initialWindowSize
        )
        filter.streams = streams
        try sync.addHandler(filter)
        try sync.addHandler(manager)
        try sync.addHandler(streams)
        try sync.addHandler(CloseOnErrorHandler(goaway))
        // The connection is already active: the manager (added after that) starts its idle timer
        // only on channelActive, so pass it on from behind NIOHTTP2Handler, which has sent its
        // preface already.
        if channel.isActive {
            try sync.context(handlerType: HTTP2StreamEventFilter.self).fireChannelActive()
        }
    }

    private func connectionClosed(_ channel: any Channel) {
        openConnections.wrappingDecrement(ordering: .relaxed)
        let done = state.withLockedValue { state -> EventLoopPromise<Void>? in
            state.connections[ObjectIdentifier(channel)] = nil
            guard state.draining, state.connections.isEmpty, let p = state.drained else { return nil }
            state.drained = nil
            return p
        }
        done?.succeed()
    }

    /// Closes the listening sockets: new connections are refused from here on.
    public func stopAccepting() async {
        let listeners = state.withLockedValue { state -> [any Channel] in
            defer {
                state.listeners = []
                for task in state.reloadTasks { task.cancel() }
                state.reloadTasks = []
            }
            return state.listeners
        }
        for channel in listeners {
            try? await channel.close()
        }
    }

    /// Asks every connection to finish: idle ones close now, busy ones after their response.
    /// Returns when all are closed, or when `deadline` passes (then the rest are closed hard).
    /// Answers whether every connection finished in time.
    @discardableResult
    public func drain(deadline: NIODeadline) async -> Bool {
        let promise = group.next().makePromise(of: Void.self)
        let channels = state.withLockedValue { state -> [any Channel] in
            state.draining = true
            if state.connections.isEmpty {
                promise.succeed()
            } else {
                state.drained = promise
            }
            return Array(state.connections.values)
        }
        for channel in channels {
            // HTTP/1.1 connections close when idle; HTTP/2 ones send GOAWAY and finish their streams.
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let timeout = group.next().scheduleTask(deadline: deadline) {
            promise.fail(ChannelError.operationUnsupported)
        }
        let finished = (try? await promise.futureResult.get()) != nil
        timeout.cancel()
        if !finished {
            let rest = state.withLockedValue { Array($0.connections.values) }
            logger.warning("shutdown deadline passed; closing connections", metadata: ["connections": "\(rest.count)"])
            for channel in rest { channel.close(promise: nil) }
        }
        return finished
    }
}
