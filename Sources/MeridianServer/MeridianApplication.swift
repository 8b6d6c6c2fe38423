internal import Foundation
public import Logging
public import MeridianConfig
public import MeridianCore
internal import MeridianActions
internal import NIOCore
public import NIOPosix
internal import NIOConcurrencyHelpers
public import MeridianTelemetry
internal import ServiceLifecycle
public import MeridianProxy
internal import MeridianCluster
public import MeridianSecurity
public import MeridianWebSocket
public import MeridianCache
internal import UnixSignals

/// One Meridian instance: event loops, listeners, the admin listener, reload and shutdown.
///
/// Tests drive it in-process through `start`, `reload` and `shutdown`; the binary calls `run`,
/// which adds the signal handling (SIGHUP reload, SIGTERM drain, SIGINT fast drain).
public final class MeridianApplication: Sendable {
    public enum ShutdownMode: Sendable {
        /// SIGTERM: not ready, wait the drain delay, stop accepting, finish in-flight up to the timeout.
        case graceful
        /// SIGINT: the same without the drain delay and with the shorter interrupt timeout.
        case fast
    }

    public struct ReloadResult: Sendable {
        public var applied: Bool
        public var generation: Int
        public var problems: [String]
    }

    private struct State {
        var configuration: Configuration
        var generation = 1
        var listeners: [HTTPServer.BoundListener] = []
        var admin: HTTPServer.BoundListener?
        var shutdownStarted = false
        /// Re-resolves upstream DNS names.
        var resolver: Task<Void, Never>?
        /// The TLS listeners' ticket-key rotators and their loops.
        var ticketRotators: [TicketKeyRotator] = []
        /// OCSP stapling from the certificates' responders; nil when no certificate has one to fetch from.
        var ocspStapling: OCSPStapling?
        var tlsTasks: [Task<Void, Never>] = []
    }

    public let configPath: String?
    public let overrides: CommandLineOverrides
    public let environment: [String: String]
    public let logger: Logger
    public let health = HealthRegistry()
    public let group: MultiThreadedEventLoopGroup
    let threadPool: NIOThreadPool
    let builder: RuntimeBuilder
    let runtimeBox: RuntimeBox
    let adminBox: RuntimeBox
    public let server: HTTPServer
    let adminServer: HTTPServer
    public let telemetry: Telemetry
    /// Redis and what the instances share through it; nil without `redis:`.
    public let shared: SharedState?
    private let state: NIOLockedValueBox<State>
    /// Serialises reloads: each reads the file, builds and swaps as one step.
    private let reloadLock = NIOLock()
    /// Completes when a shutdown has finished, so a second signal can cut the wait short.
    private let hurry = NIOLockedValueBox<EventLoopPromise<Void>?>(nil)

    public init(
        configuration: Configuration, configPath: String? = nil, overrides: CommandLineOverrides = .init(),
        environment: [String: String] = [:], logger: Logger, observers: [any RequestObserver] = [],
        cacheClock: (@Sendable () -> Double)? = nil
    ) throws {
        var configuration = configuration
        overrides.apply(to: &configuration)
        self.configPath = configPath
        self.overrides = overrides
        self.environment = environment
        self.logger = logger
        let loops = configuration.server.eventLoops == 0 ? System.coreCount : configuration.server.eventLoops
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
        self.threadPool = NIOThreadPool(numberOfThreads: max(2, loops))
        threadPool.start()
        let telemetry: Telemetry
        do {
            telemetry = try Telemetry(configuration.telemetry, environment: environment, version: MeridianVersion.string, logger: logger)
        } catch {
            try? group.syncShutdownGracefully()
            try? threadPool.syncShutdownGracefully()
            throw error
        }
        self.telemetry = telemetry
        let upstreams = UpstreamRegistry(group: group, logger: logger, observer: telemetry.upstreamObserver)
        var shared: SharedState?
        if let redis = configuration.redis {
            do {
                shared = try SharedState(
                    redis, group: group, registry: upstreams, logger: logger, observer: telemetry.redisObserver, tracing: telemetry.redisTracing
                )
            } catch {
                try? group.syncShutdownGracefully()
                try? threadPool.syncShutdownGracefully()
                throw error
            }
        }
        self.shared = shared
        let httpCache = HTTPCache(
            config: configuration.cache, redis: shared?.client, keyPrefix: configuration.redis?.keyPrefix ?? "meridian",
            requestBudget: configuration.cache.l2Timeout, logger: logger, clock: cacheClock ?? HTTPCache.wallClock
        )
        let channels = ChannelHub(config: configuration.channels, logger: logger)
        if let shared {
            channels.attach(relay: RedisChannelRelay(
                client: shared.client, config: configuration.channels, keyPrefix: configuration.redis?.keyPrefix ?? "meridian", logger: logger
            ))
        }
        self.builder = RuntimeBuilder(
            group: group, threadPool: threadPool, logger: logger, observers: [telemetry.observer] + observers, telemetry: telemetry,
            upstreams: upstreams, globalLimits: shared?.limits, httpCache: httpCache, channels: channels, environment: environment,
            banSharing: shared?.bans
        )
        // The admin listener counts its own connections and requests: scrapes and probes are not traffic.
        let services = ConnectionServices(threadPool: threadPool)
        let adminServices = ConnectionServices(threadPool: threadPool)
        self.runtimeBox = RuntimeBox(try builder.build(configuration, generation: 1))
        self.adminBox = RuntimeBox(builder.buildAdmin(configuration, health: health, generation: 1))
        self.server = HTTPServer(
            group: group, runtimeBox: runtimeBox, services: services, logger: logger,
            redirectResponder: { target in RedirectResponder(.init(to: target, status: 308)) }
        )
        self.adminServer = HTTPServer(group: group, runtimeBox: adminBox, services: adminServices, logger: logger)
        telemetry.attach(server: server, health: health)
        telemetry.attach(upstreams: builder.upstreams)
        telemetry.attach(rateLimits: builder.rateLimitStats)
        telemetry.attach(security: builder.securityStats)
        telemetry.attach(compression: builder.compressionStats, cache: builder.compressionCache)
        telemetry.attach(cache: builder.httpCache.stats)
        telemetry.attach(channels: channels.stats)
        health.register(HealthRegistry.Check(name: "upstreams", probes: [.readyz], detail: { upstreams.readinessDetail() }) { nil })
        if let shared {
            telemetry.attach(redis: { shared.client.status.degraded })
            telemetry.attach(membership: shared.membership)
            // Redis down is a degraded mode, not a failure: readiness stays green and says so.
            health.register(HealthRegistry.Check(name: "redis", probes: [.readyz], detail: { shared.readinessDetail() }) { nil })
        }
        self.state = NIOLockedValueBox(State(configuration: configuration))
    }

    public var configuration: Configuration { state.withLockedValue { $0.configuration } }
    /// What the HTTP cache did (tests and the status page read it).
    public var cacheStats: CacheStats { builder.httpCache.stats }
    /// The WebSocket and SSE channels of this instance.
    public var channels: ChannelHub { builder.channels }
    public var generation: Int { state.withLockedValue { $0.generation } }
    public var listeners: [HTTPServer.BoundListener] { state.withLockedValue { $0.listeners } }
    public var adminListener: HTTPServer.BoundListener? { state.withLockedValue { $0.admin } }
    /// The ticket-key rotators of the TLS listeners with generated keys.
    public var ticketRotators: [TicketKeyRotator] { state.withLockedValue { $0.ticketRotators } }
    public var ocspStapling: OCSPStapling? { state.withLockedValue { $0.ocspStapling } }

    /// Binds the listeners and the admin listener; the instance is then started and ready.
    @discardableResult
    public func start() async throws -> [HTTPServer.BoundListener] {
        let config = configuration
        try telemetry.start()
        if let shared {
            do {
                try await shared.start()
            } catch {
                await shared.shutdown()
                await telemetry.shutdown()
                throw error
            }
        }
        telemetry.startBackgroundWork(on: group.next())
        builder.httpCache.start(on: group.next())
        let bound: [HTTPServer.BoundListener]
        do {
            bound = try await server.start(config.listeners.map(ListenerSettings.init))
        } catch {
            await telemetry.stopBackgroundWork()
            await telemetry.shutdown()
            throw error
        }
        var admin: HTTPServer.BoundListener?
        if let address = config.admin.address {
            let adminListener = ListenerSettings(name: "admin", host: address.host, port: address.port, reusePort: false, backlog: 128, sendfile: true)
            do {
                admin = try await adminServer.start([adminListener]).first
            } catch {
                await server.stopAccepting()  // no half-started instance keeps accepting
                await telemetry.stopBackgroundWork()
                await telemetry.shutdown()
                throw error
            }
        }
        let upstreams = builder.upstreams
        let (threadPool, logger) = (self.threadPool, self.logger)
        // Generated ticket keys: the first step joins the cluster's schedule (or starts it) right away.
        let rotators = server.certificateStores.compactMap { store in
            TicketKeyRotator(store: store, sharing: store.configuration.sessionTicketsShared ? shared?.ticketKeys : nil, logger: logger)
        }
        for rotator in rotators where rotator.isShared {
            logger.notice(
                "TLS session ticket keys are shared through Redis: they decrypt every resumed session, so Redis needs TLS and an ACL user",
                metadata: ["listener": "\(rotator.store.listener)", "redis.key": "\(configuration.redis?.keyPrefix ?? "meridian"):tls-tickets:\(rotator.store.listener)"]
            )
        }
        for rotator in rotators { await rotator.step() }
        // Fetched in the background: a slow responder must not hold the start (nothing is stapled until then).
        let stapling = Optional(OCSPStapling(stores: server.certificateStores, logger: logger)).flatMap { $0.hasWork ? $0 : nil }
        state.withLockedValue {
            $0.listeners = bound
            $0.admin = admin
            $0.resolver = Task { await upstreams.runResolver(threadPool: threadPool, logger: logger) }
            $0.ticketRotators = rotators
            $0.tlsTasks = rotators.map { rotator in Task { await rotator.run() } }
            if let stapling {
                $0.ocspStapling = stapling
                $0.tlsTasks.append(Task { await stapling.run() })
            }
        }
        if let shared {
            // What the other instances show of this one on their status pages (the admin port is known now).
            shared.membership.announce(
                ClusterInstance(
                    id: shared.membership.instanceID, host: telemetry.hostName, admin: admin.map { HTTPServer.describe($0.address) },
                    version: MeridianVersion.string, startedAt: ISO8601DateFormatter().string(from: telemetry.startedAt)
                )
            )
            await shared.membership.beat()
        }
        health.markStarted()
        logger.info("meridian started", metadata: ["version": "\(MeridianVersion.string)", "config.generation": "1"])
        return bound
    }

    /// Reads the configuration file again; applies it only when it is valid. Requests in flight keep
    /// the runtime they began with.
    @discardableResult
    public func reload() -> ReloadResult {
        reloadLock.withLock { reloadLocked() }
    }

    private func reloadLocked() -> ReloadResult {
        guard let configPath else {
            logger.notice("reload requested but no configuration file is in use; nothing to do")
            return ReloadResult(applied: false, generation: generation, problems: ["no configuration file"])
        }
        var config: Configuration
        do {
            config = try ConfigLoader.load(file: configPath, environment: environment)
        } catch {
            let problems = error.diagnostics.map(\.description)
            telemetry.configReloaded(success: false, generation: generation)
            logger.error(
                "configuration reload failed; keeping the running configuration",
                metadata: ["config.file": "\(configPath)", "errors": "\(problems.joined(separator: "; "))", "config.generation": "\(generation)"]
            )
            return ReloadResult(applied: false, generation: generation, problems: problems)
        }
        overrides.apply(to: &config)
        let previous = configuration
        if config.listeners != previous.listeners || config.admin != previous.admin || config.server.eventLoops != previous.server.eventLoops {
            logger.warning("listener, admin and event loop changes take effect on restart; the running sockets are kept")
        }
        let next = generation + 1
        do {
            let runtime = try builder.build(config, generation: next)
            runtimeBox.replace(with: runtime)
            adminBox.replace(with: builder.buildAdmin(config, health: health, generation: next))
        } catch {
            telemetry.configReloaded(success: false, generation: generation)
            logger.error("configuration reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
            return ReloadResult(applied: false, generation: generation, problems: ["\(error)"])
        }
        state.withLockedValue {
            $0.configuration = config
            $0.generation = next
        }
        telemetry.configReloaded(success: true, generation: next)
        if config.telemetry != previous.telemetry {
            logger.warning("telemetry changes (tracing, metrics, access log, status) take effect on restart")
        }
        logger.info("configuration reloaded", metadata: ["config.file": "\(configPath)", "config.generation": "\(next)"])
        return ReloadResult(applied: true, generation: next, problems: [])
    }

    /// Turns not-ready, waits, stops accepting, drains, then stops the event loops. A call while a
    /// shutdown is already under way skips the rest of its drain delay and answers false.
    @discardableResult
    public func shutdown(_ mode: ShutdownMode) async -> Bool {
        let first = state.withLockedValue { s -> Bool in
            defer { s.shutdownStarted = true }
            return !s.shutdownStarted
        }
        guard first else {
            hurry.withLockedValue { $0?.succeed() }
            return false
        }
        let lifecycle = configuration.lifecycle
        let delay = mode == .graceful ? lifecycle.drainDelay : .zero
        let timeout = mode == .graceful ? lifecycle.shutdownTimeout : lifecycle.interruptTimeout
        health.markShuttingDown()
        logger.info("shutdown started", metadata: ["mode": "\(mode)", "drain_delay": "\(delay)", "timeout": "\(timeout)"])
        if delay > .zero {
            let promise = group.next().makePromise(of: Void.self)
            hurry.withLockedValue { $0 = promise }
            let timer = group.next().scheduleTask(in: TimeAmount(delay)) { promise.succeed() }
            try? await promise.futureResult.get()
            timer.cancel()
        }
        await server.stopAccepting()
        // WebSockets get 1001 and event streams end, so their clients reconnect to another instance.
        builder.channels.drain()
        let finished = await server.drain(deadline: .now() + TimeAmount(timeout))
        await adminServer.stopAccepting()
        await adminServer.drain(deadline: .now() + .milliseconds(200))
        let resolver = state.withLockedValue { $0.resolver }
        resolver?.cancel()
        await resolver?.value
        for task in state.withLockedValue({ $0.tlsTasks }) {
            task.cancel()
            await task.value
        }
        builder.upstreams.shutdown()
        builder.httpCache.shutdown()
        await builder.shutdown()
        await shared?.shutdown()
        await telemetry.stopBackgroundWork()
        // The access log is flushed; spans of the last requests get a few seconds to go out.
        await telemetry.shutdown(spanDeadline: mode == .graceful ? .seconds(5) : .seconds(1))
        logger.info("shutdown complete", metadata: ["in_flight_finished": "\(finished)"])
        try? await threadPool.shutdownGracefully()
        try? await group.shutdownGracefully()
        return true
    }

    /// Starts, then serves until SIGTERM or SIGINT, reloading on SIGHUP. A second SIGTERM or
    /// SIGINT during the drain delay cuts it short.
    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup, .sigterm, .sigint, .sigusr1)
        try await start()
        let (done, finished) = AsyncStream<Void>.makeStream()
        let signalTask = Task {
            for await signal in signals {
                switch signal {
                case .sighup:
                    self.logger.info("SIGHUP: reloading configuration and TLS certificates")
                    self.reload()
                    await self.server.reloadCertificates()
                case .sigusr1:
                    self.logger.info("SIGUSR1: reopening the access log")
                    self.telemetry.accessLog?.reopen()
                case .sigterm, .sigint:
                    let mode: ShutdownMode = signal == .sigterm ? .graceful : .fast
                    self.logger.info("\(signal == .sigterm ? "SIGTERM" : "SIGINT") received")
                    Task {
                        if await self.shutdown(mode) { finished.finish() }
                    }
                default:
                    break
                }
            }
        }
        for await _ in done {}
        signalTask.cancel()
    }
}

public enum MeridianVersion {
    public static let string = "0.1.0"
}
