internal import Foundation
public import Logging
public import MeridianCluster
public import MeridianConfig
public import MeridianProxy
public import MeridianRedis
internal import NIOConcurrencyHelpers
public import NIOCore
internal import NIOSSL

/// Redis and what the instances share through it: the client, the membership heartbeat, the shared breakers and
/// the global rate limits. Made only when `redis:` is configured; everything stays local otherwise.
public final class SharedState: Sendable {
    public let client: RedisClient
    public let membership: ClusterMembership
    public let breakers: SharedBreakers
    public let limits: GlobalRateLimits
    /// Brute-force counts and bans.
    public let bans: SharedBans
    /// The TLS listeners' session-ticket keys.
    public let ticketKeys: SharedTicketKeys
    let config: Configuration.Redis
    private let heartbeat = NIOLockedValueBox<Task<Void, Never>?>(nil)

    public init(
        _ config: Configuration.Redis, group: any EventLoopGroup, registry: UpstreamRegistry, logger: Logger, observer: (any RedisObserver)?,
        tracing: (any RedisCallTracing)? = nil
    ) throws {
        self.config = config
        let instanceID = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(String(UInt32.random(in: .min ... .max), radix: 36))"
        var settings = RedisSettings(topology: config.cluster ? .cluster(config.nodes.map(Self.node)) : .standalone(Self.node(config.nodes[0])))
        settings.username = config.username
        settings.password = config.password
        settings.database = config.database
        settings.connectTimeout = config.connectTimeout
        settings.commandTimeout = config.commandTimeout
        settings.connectionsPerLoop = config.connectionsPerLoop
        settings.clientName = "meridian-\(instanceID)".replacingOccurrences(of: " ", with: "_")
        if let tls = config.tls {
            var t = TLSConfiguration.makeClientConfiguration()
            t.minimumTLSVersion = .tlsv12
            if let ca = tls.ca { t.trustRoots = .file(ca) }
            if let certificate = tls.certificate, let key = tls.key {
                t.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                t.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
            if !tls.verify { t.certificateVerification = .none }
            settings.tls = t
            settings.tlsServerName = tls.serverName
        }
        let client = try RedisClient(settings: settings, group: group, logger: logger, observer: observer)
        self.client = client
        self.membership = ClusterMembership(client: client, keyPrefix: config.keyPrefix, instanceID: instanceID, logger: logger)
        self.breakers = SharedBreakers(
            client: client, registry: registry, membership: membership, group: group, keyPrefix: config.keyPrefix, logger: logger
        )
        self.limits = GlobalRateLimits(client: client, membership: membership, group: group, keyPrefix: config.keyPrefix, requestBudget: config.requestBudget, logger: logger,
            tracing: tracing
        )
        self.bans = SharedBans(client: client, keyPrefix: config.keyPrefix, logger: logger)
        self.ticketKeys = SharedTicketKeys(client: client, keyPrefix: config.keyPrefix)
        registry.enableSharing(breakers)
    }

    /// Connects (a refused AUTH or SELECT throws: a configuration mistake), subscribes and starts the heartbeat.
    /// Redis being unreachable does not throw: the instance starts degraded.
    public func start() async throws {
        try await client.start()
        breakers.start()
        limits.start()
        await membership.beat()
        let membership = self.membership
        heartbeat.withLockedValue { $0 = Task { await membership.run() } }
    }

    public func shutdown() async {
        let task = heartbeat.withLockedValue { $0 }
        task?.cancel()
        await task?.value
        limits.stop()
        await client.shutdown()
    }

    /// `/readyz?verbose`: `connected (3 instances)` or `degraded: <why>, since 12s`.
    public func readinessDetail() -> String {
        let status = client.status
        guard status.degraded else { return "connected, \(membership.liveInstances) instance(s) live" }
        let seconds = Int((ContinuousClock.now - status.since).components.seconds)
        return "degraded: \(status.reason ?? "unreachable") for \(seconds)s; shared state is local"
    }

    static func node(_ address: Configuration.Address) -> RedisNode {
        RedisNode(host: address.host, port: address.port)
    }
}
