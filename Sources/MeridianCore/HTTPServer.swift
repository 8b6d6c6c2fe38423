public import Logging
public import MeridianConfig
internal import NIOConcurrencyHelpers
public import NIOCore
internal import NIOHTTP1
internal import NIOPosix
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

    private struct State {
        var listeners: [any Channel] = []
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

    public init(group: any EventLoopGroup, runtimeBox: RuntimeBox, services: ConnectionServices, logger: Logger) {
        self.group = group
        self.runtimeBox = runtimeBox
        self.services = services
        self.logger = logger
    }

    /// Binds every listener; on failure closes what was bound and throws.
    public func start(_ listeners: [Configuration.Listener]) async throws -> [BoundListener] {
        var bound: [BoundListener] = []
        do {
            for listener in listeners {
                let address = try SocketAddress.makeAddressResolvingHost(listener.address.host, port: listener.address.port)
                let loops = listener.reusePort ? Array(group.makeIterator()) : [group.next()]
                var port = listener.address.port
                for loop in loops {
                    let target = try SocketAddress.makeAddressResolvingHost(address.ipAddress ?? listener.address.host, port: port)
                    let channel = try await bootstrap(listener, group: listener.reusePort ? loop : group).bind(to: target).get()
                    state.withLockedValue { $0.listeners.append(channel) }
                    if port == 0, let actual = channel.localAddress?.port { port = actual }
                    if bound.last?.name != listener.name || bound.isEmpty, let local = channel.localAddress {
                        bound.append(BoundListener(name: listener.name, address: local))
                        logger.info(
                            "listening",
                            metadata: ["listener": "\(listener.name)", "address": "\(Self.describe(local))", "sockets": "\(loops.count)"]
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

    private func bootstrap(_ listener: Configuration.Listener, group: any EventLoopGroup) -> ServerBootstrap {
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(listener.backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        if listener.reusePort {
            bootstrap = bootstrap.serverChannelOption(ChannelOptions.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
        }
        let sendfile = listener.sendfile
        return bootstrap
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.initialize(channel, sendfile: sendfile) }
            }
    }

    private func initialize(_ channel: any Channel, sendfile: Bool) throws {
        let runtime = runtimeBox.current
        let admitted = state.withLockedValue { state -> Bool in
            guard !state.draining, state.connections.count < runtime.limits.maxConnections else { return false }
            state.connections[ObjectIdentifier(channel)] = channel
            return true
        }
        guard admitted else {
            refusedConnections.wrappingIncrement(ordering: .relaxed)
            channel.close(promise: nil)
            return
        }
        acceptedConnections.wrappingIncrement(ordering: .relaxed)
        openConnections.wrappingIncrement(ordering: .relaxed)
        channel.closeFuture.whenComplete { [self] _ in self.connectionClosed(channel) }
        try channel.pipeline.syncOperations.addHandler(
            HTTP1ConnectionHandler(runtimeBox: runtimeBox, services: services, canSendFile: sendfile)
        )
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
            defer { state.listeners = [] }
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
            channel.pipeline.fireUserInboundEventTriggered(HTTP1ConnectionHandler.DrainEvent())
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
