internal import Atomics
public import Logging
public import MeridianProxy
public import MeridianRedis
internal import NIOConcurrencyHelpers
public import NIOCore

/// Circuit breakers shared by every instance through Redis.
///
/// - Each instance batches its outcomes per endpoint on each event loop and sends them every ``flushInterval`` in
///   one script call per endpoint (``RedisScripts/breakerRecordScript``), which counts them in time buckets and
///   opens the cluster-wide breaker under the quorum rule.
/// - An opening or a closing is published on `<prefix>:breakers`; every instance (the deciding one too) applies it
///   to its local breaker when the message arrives.
/// - Half-open probes of a breaker the cluster opened need a token from Redis (``RedisScripts/breakerProbeScript``),
///   and their verdicts are counted there (``RedisScripts/breakerProbeResultScript``): a recovering upstream sees
///   `max_probes` requests from the whole cluster.
/// - Local breakers always count this instance's own outcomes too: a lone instance opens its own breaker without
///   anyone else, and with Redis down every breaker is local (``isActive`` is false: no tokens needed).
public final class SharedBreakers: BreakerSharing {
    public static let flushInterval = Duration.milliseconds(100)
    let client: RedisClient
    let registry: UpstreamRegistry
    let membership: ClusterMembership
    let prefix: String
    let channel: String
    let logger: Logger
    private let batches: [ObjectIdentifier: OutcomeBatch]
    private let probesInFlight = NIOLockedValueBox<[SharedBreakerID: ContinuousClock.Instant]>([:])
    static let record = RedisScript(RedisScripts.breakerRecordScript)
    static let probe = RedisScript(RedisScripts.breakerProbeScript)
    static let probeResult = RedisScript(RedisScripts.breakerProbeResultScript)

    public init(client: RedisClient, registry: UpstreamRegistry, membership: ClusterMembership, group: any EventLoopGroup, keyPrefix: String, logger: Logger) {
        self.client = client
        self.registry = registry
        self.membership = membership
        self.prefix = keyPrefix
        self.channel = "\(keyPrefix):breakers"
        self.logger = logger
        var batches: [ObjectIdentifier: OutcomeBatch] = [:]
        for loop in group.makeIterator() { batches[ObjectIdentifier(loop)] = OutcomeBatch(eventLoop: loop) }
        self.batches = batches
        for batch in batches.values { batch.owner = self }
    }

    /// Subscribes to the transitions channel.
    public func start() {
        client.subscribe(channel) { [weak self] _, message in self?.received(String(buffer: message)) }
    }

    public var isActive: Bool { !client.isDegraded }

    // MARK: - Outcomes

    public func record(_ id: SharedBreakerID, failed: Bool, on eventLoop: any EventLoop) {
        guard isActive, let batch = batches[ObjectIdentifier(eventLoop)] else { return }
        batch.add(id, failed: failed)
    }

    func flush(_ counts: [SharedBreakerID: (successes: Int, failures: Int)], on eventLoop: any EventLoop) {
        guard isActive else { return }
        for (id, c) in counts {
            let b = id.cluster.config.circuitBreaker
            let keys = keys(id)
            let bucketMs = Self.milliseconds(b.window) / 10
            let args: [RedisArgument] = [
                .string(membership.instanceID), RedisArgument(c.successes), RedisArgument(c.failures), RedisArgument(max(1, bucketMs)), 10,
                RedisArgument(b.minimumRequests), .string(String(b.failureRatio)), RedisArgument(b.minReportingInstances),
                .string(String(b.minReportingShare)), RedisArgument(membership.liveInstances), RedisArgument(Self.milliseconds(b.openFor)),
                RedisArgument(Self.milliseconds(b.maxOpenFor)), RedisArgument(Self.milliseconds(b.window) * 6), .string(channel),
                .string(id.clusterName), .string(id.endpointKey), RedisArgument(Self.reporterFailures(b.minimumRequests)),
            ]
            client.run(Self.record, keys: [keys.window, keys.state, keys.backoff, keys.probes, keys.successes], arguments: args, on: eventLoop)
                .whenComplete { [logger] result in
                    switch result {
                    case .success(let value):
                        // `{1, pttl}`: the cluster's breaker is open. An instance that missed the message (it
                        // started later, or its pub/sub connection was down) learns it here.
                        if let reply = value.array, reply.count == 2, reply[0].int == 1, let pttl = reply[1].int, pttl > 0 {
                            id.cluster.applyShared(endpoint: id.endpoint, to: .open, openFor: .milliseconds(pttl), reason: "open across the cluster")
                        }
                    case .failure(let error):
                        logger.debug("breaker outcomes not shared", metadata: ["endpoint": "\(id.endpointKey)", "error": "\(error)"])
                    }
                }
        }
    }

    // MARK: - Probes

    public func requestProbe(_ id: SharedBreakerID) {
        let now = ContinuousClock.now
        // One request per endpoint at a time, and not more often than every 100 ms while the answer is no.
        let go = probesInFlight.withLockedValue { inFlight in
            if let at = inFlight[id], now < at { return false }
            // Forget answers long past (they would keep retired clusters alive after a reload).
            if inFlight.count > 64 { inFlight = inFlight.filter { $0.value > now } }
            inFlight[id] = now.advanced(by: .seconds(5))
            return true
        }
        guard go else { return }
        let b = id.cluster.config.circuitBreaker
        let keys = keys(id)
        let lifetime = max(1000, Self.milliseconds(b.openFor) * 2)
        client.run(Self.probe, keys: [keys.state, keys.probes], arguments: [RedisArgument(b.maxProbes), RedisArgument(lifetime)])
            .whenComplete { [probesInFlight] result in
                let granted = (try? result.get())?.int == 1
                if granted { id.cluster.grantProbes(endpoint: id.endpoint, count: 1) }
                probesInFlight.withLockedValue { $0[id] = granted ? nil : ContinuousClock.now.advanced(by: .milliseconds(100)) }
            }
    }

    public func probeResult(_ id: SharedBreakerID, success: Bool) {
        let b = id.cluster.config.circuitBreaker
        let keys = keys(id)
        let args: [RedisArgument] = [
            success ? "1" : "0", RedisArgument(b.maxProbes), RedisArgument(Self.milliseconds(b.openFor)), RedisArgument(Self.milliseconds(b.maxOpenFor)),
            RedisArgument(Self.milliseconds(b.window) * 6), .string(channel), .string(id.clusterName), .string(id.endpointKey),
        ]
        _ = client.run(Self.probeResult, keys: [keys.state, keys.probes, keys.successes, keys.backoff, keys.window], arguments: args)
    }

    // MARK: - Transitions

    /// `open|closed \t cluster \t endpoint \t period ms \t reason`
    func received(_ message: String) {
        let fields = message.split(separator: "\t", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 5, let periodMs = Int(fields[3]) else {
            logger.warning("malformed breaker message ignored", metadata: ["message": "\(message.prefix(200))"])
            return
        }
        guard let cluster = registry.cluster(named: fields[1]), let endpoint = cluster.endpointIndex(of: fields[2]) else { return }
        switch fields[0] {
        case "open": cluster.applyShared(endpoint: endpoint, to: .open, openFor: .milliseconds(periodMs), reason: fields[4])
        case "closed": cluster.applyShared(endpoint: endpoint, to: .closed, openFor: nil, reason: fields[4])
        default: logger.warning("unknown breaker transition ignored", metadata: ["message": "\(message.prefix(200))"])
        }
    }

    struct Keys {
        var window, state, backoff, probes, successes: String
    }

    /// Every key of one breaker shares the hash tag `{br:<cluster>:<endpoint>}`: one slot in a Redis Cluster.
    func keys(_ id: SharedBreakerID) -> Keys {
        let base = "\(prefix):{br:\(id.clusterName):\(id.endpointKey)}"
        return Keys(window: base + ":w", state: base + ":st", backoff: base + ":bk", probes: base + ":pt", successes: base + ":ps")
    }

    /// Failures in the window that make an instance one of the quorum's reporters: a tenth of the breaker's
    /// minimum, at least one (20 → 2).
    static func reporterFailures(_ minimumRequests: Int) -> Int {
        max(1, minimumRequests / 10)
    }

    static func milliseconds(_ d: Duration) -> Int {
        Int(d.components.seconds) * 1000 + Int(d.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// One event loop's outcomes since the last flush. Confined to its loop.
final class OutcomeBatch: @unchecked Sendable {
    let eventLoop: any EventLoop
    weak var owner: SharedBreakers?
    private var counts: [SharedBreakerID: (successes: Int, failures: Int)] = [:]
    private var armed = false

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func add(_ id: SharedBreakerID, failed: Bool) {
        if failed { counts[id, default: (0, 0)].failures += 1 } else { counts[id, default: (0, 0)].successes += 1 }
        guard !armed else { return }
        armed = true
        eventLoop.scheduleTask(in: .milliseconds(Int64(SharedBreakers.milliseconds(SharedBreakers.flushInterval)))) { [self] in
            armed = false
            let batch = counts
            counts = [:]
            owner?.flush(batch, on: eventLoop)
        }
    }
}
