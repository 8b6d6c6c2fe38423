public import Logging
public import MeridianConfig
public import NIOCore
internal import MeridianCore
internal import NIOConcurrencyHelpers
internal import NIOPosix

/// A named cluster of upstream endpoints as one instance runs it: the endpoints and their
/// addresses, one ``ClusterLoop`` per event loop (balancer and connection pools, no locks), and the
/// instance-wide ``ClusterHealth``. It outlives reloads that leave its configuration unchanged, so
/// pools stay warm and breakers keep what they learned.
public final class UpstreamCluster: Sendable {
    public let name: String
    public let config: Configuration.Upstream
    let health: ClusterHealth
    public let endpointKeys: [String]
    let stats: [EndpointStats]
    private let loops: [ObjectIdentifier: ClusterLoop]
    private let retired = NIOLockedValueBox(false)
    private let checker = NIOLockedValueBox<Task<Void, Never>?>(nil)
    let group: any EventLoopGroup
    /// TLS to the endpoints, when the cluster has it.
    let tls: UpstreamTLSContext?
    /// The endpoints' current addresses (the loops' pools hold their own copies): for the health
    /// checks, which must not resolve names themselves.
    let addresses: NIOLockedValueBox<[SocketAddress?]>
    /// Some endpoint is a DNS name (the resolver has work here).
    let hasNames: Bool
    /// The other instances' breakers, through Redis; nil when breakers are local.
    let sharing: (any BreakerSharing)?
    let observer: (any UpstreamObserver)?
    let logger: Logger

    /// Resolves the endpoints (names through the system resolver: call it off the event loops)
    /// and makes each loop's balancer and pools.
    public init(
        _ config: Configuration.Upstream, group: any EventLoopGroup, logger: Logger = Logger(label: "meridian.upstream"),
        observer: (any UpstreamObserver)? = nil, sharing: (any BreakerSharing)? = nil
    ) throws {
        self.sharing = sharing
        self.observer = observer
        self.logger = logger
        let tls = try config.tls.map { try UpstreamTLSContext($0, endpoints: config.endpoints, http2: config.httpProtocol == "http2") }
        self.tls = tls
        self.name = config.name
        self.config = config
        self.group = group
        self.endpointKeys = config.endpoints.map { Configuration.Address(host: $0.host, port: $0.port).description }
        let addresses = config.endpoints.map { Self.resolve($0) }
        self.addresses = NIOLockedValueBox(addresses)
        self.hasNames = config.endpoints.contains { IPNetwork.parseAddress(Substring($0.host)) == nil }
        let stats = config.endpoints.map { _ in EndpointStats() }
        self.stats = stats
        self.health = ClusterHealth(config, endpointCount: config.endpoints.count)
        var loops: [ObjectIdentifier: ClusterLoop] = [:]
        let endpoints = zip(endpointKeys, config.endpoints).map { BalancerEndpoint(key: $0, weight: $1.weight) }
        let policy = Self.policy(config.balancing)
        // Hash tables are immutable: one per cluster, shared by the loops' balancers.
        var ring: HashRing?
        var maglev: MaglevTable?
        switch policy {
        case .ringHash: ring = HashRing(endpoints: endpoints)
        case .maglev: maglev = MaglevTable(endpoints: endpoints)
        default: break
        }
        for eventLoop in group.makeIterator() {
            let seed = SplitMix64(seed: UInt64.random(in: .min ... .max))
            let balancer: any LoadBalancer
            if let ring {
                balancer = RingHashBalancer(ring: ring, random: seed)
            } else if let maglev {
                balancer = MaglevBalancer(table: maglev, random: seed)
            } else {
                balancer = LoadBalancers.make(policy, endpoints: endpoints, random: seed)
            }
            loops[ObjectIdentifier(eventLoop)] = ClusterLoop(
                eventLoop: eventLoop, config: config, health: health, addresses: addresses, balancer: balancer, stats: stats, tls: tls
            )
        }
        self.loops = loops
        for loop in loops.values {
            loop.sharing = sharing
        }
    }

    /// The cluster's state on `eventLoop`; nil only for a loop outside the server's group.
    func loop(for eventLoop: any EventLoop) -> ClusterLoop? {
        loops[ObjectIdentifier(eventLoop)]
    }

    /// How many endpoints could take a request now, for `/readyz?verbose` and the status page.
    public var healthSummary: (usable: Int, healthy: Int, total: Int) { health.counts() }

    /// A reload replaced this cluster: idle connections close now, lent ones when they come back.
    public func retire() {
        retired.withLockedValue { $0 = true }
        stopHealthChecks()
        for loop in loops.values {
            loop.eventLoop.execute { loop.retire() }
        }
    }

    /// Resolves the DNS names again and hands changed addresses to every loop (new connections use
    /// them; open ones finish what they carry). Blocking: run it on a thread pool.
    public func reresolve(logger: Logger) {
        guard !retired.withLockedValue({ $0 }) else { return }
        for (i, endpoint) in config.endpoints.enumerated() where IPNetwork.parseAddress(Substring(endpoint.host)) == nil {
            let address = Self.resolve(endpoint)
            if address == nil {
                logger.warning("upstream endpoint did not resolve", metadata: ["cluster": "\(name)", "endpoint": "\(endpointKeys[i])"])
                continue
            }
            addresses.withLockedValue { $0[i] = address }
            for loop in loops.values {
                loop.eventLoop.execute { loop.update(endpoint: i, address: address) }
            }
        }
    }

    /// Starts the active health checks, when the cluster has them (once).
    func startHealthChecks(logger: Logger) {
        guard let settings = config.healthCheck else { return }
        checker.withLockedValue { task in
            guard task == nil, !retired.withLockedValue({ $0 }) else { return }
            let checker = HealthChecker(cluster: self, settings: settings, group: group, logger: logger)
            task = Task { await checker.run() }
        }
    }

    func stopHealthChecks() {
        checker.withLockedValue { $0 }?.cancel()
    }


    static func resolve(_ endpoint: Configuration.Upstream.Endpoint) -> SocketAddress? {
        if let a = try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port) { return a }
        return try? SocketAddress.makeAddressResolvingHost(endpoint.host, port: endpoint.port)
    }

    static func policy(_ b: Configuration.Upstream.Balancing) -> BalancingPolicy {
        let source: HashSource
        switch b.hashOn {
        case .header(let h): source = .header(h)
        case .cookie(let c): source = .cookie(c)
        case .clientIP, nil: source = .clientIP
        }
        switch b.policy {
        case "least_request": return .leastRequest
        case "p2c_ewma": return .p2cEWMA
        case "random": return .random
        case "ring_hash": return .ringHash(source)
        case "maglev": return .maglev(source)
        default: return .roundRobin
        }
    }
}

/// A cluster on one event loop: its balancer and one pool per endpoint. Only that loop touches it,
/// which is what makes the unchecked `Sendable` safe (it is reached through the cluster's
/// dictionary from any thread, but used only after a check that the caller is on its loop).
final class ClusterLoop: @unchecked Sendable {
    let eventLoop: any EventLoop
    let health: ClusterHealth
    let balancer: any LoadBalancer
    let stats: [EndpointStats]
    private(set) var pools: [EndpointPool]
    private(set) var retired = false
    /// The exchanges' head timeouts on this loop, one scheduled task per timeout length.
    let timeouts: ExchangeTimeouts
    /// The loop's clock (made on the loop at first use: the cluster's loops are built off them).
    private(set) lazy var clock = LoopClock.of(eventLoop)
    var sharing: (any BreakerSharing)?
    /// The observer's state for each endpoint (``UpstreamObserver/endpointState(cluster:endpoint:)``), made on first
    /// use, for the observer that made it (one per process today; the check keeps a loop from ever handing one
    /// observer's state to another).
    private var observerStates: [(any Sendable)??] = []
    private var statesObserver: (any UpstreamObserver)?

    init(
        eventLoop: any EventLoop, config: Configuration.Upstream, health: ClusterHealth, addresses: [SocketAddress?],
        balancer: any LoadBalancer, stats: [EndpointStats], tls: UpstreamTLSContext?
    ) {
        self.eventLoop = eventLoop
        self.health = health
        self.balancer = balancer
        self.stats = stats
        self.timeouts = ExchangeTimeouts(eventLoop: eventLoop)
        self.pools = addresses.enumerated().map { i, address in
            EndpointPool(
                eventLoop: eventLoop, endpoint: i, address: address, settings: config.pool, connectTimeout: config.timeouts.connect,
                stats: stats[i], tls: tls, http2: config.httpProtocol == "http2"
            )
        }
    }

    /// What `observer` keeps for endpoint `i` (`key` in cluster `cluster`), asked of it once on this loop.
    func observerState(_ observer: any UpstreamObserver, endpoint i: Int, cluster: String, key: String) -> (any Sendable)? {
        if statesObserver !== observer {
            statesObserver = observer
            observerStates = Array(repeating: nil, count: pools.count)
        }
        if let made = observerStates[i] { return made }
        let state = observer.endpointState(cluster: cluster, endpoint: key)
        observerStates[i] = .some(state)
        return state
    }

    func update(endpoint: Int, address: SocketAddress?) {
        let pool = pools[endpoint]
        guard pool.address != address else { return }
        pool.address = address
        pool.closeIdle()
    }

    func retire() {
        retired = true
        for pool in pools { pool.closeIdle() }
    }

    enum Pick: Equatable {
        /// `halfOpened`: this pick turned the endpoint's open breaker half-open (its period is over).
        case endpoint(Int, probe: Bool, halfOpened: Bool = false)
        /// Every endpoint fails its checks or is ejected (or was tried already).
        case noHealthyEndpoint
        /// The usable endpoints' breakers are open: the shortest wait.
        case breakersOpen(retryAfter: Duration)
    }

    /// Chooses an endpoint for a try: the balancer's pick among usable endpoints not yet tried,
    /// admitted by its breaker (an endpoint whose breaker refuses is passed over).
    /// `cluster` is the one that owns this loop (passed in, not kept: a weak reference back to it would give the
    /// cluster a side table, and every retain of it on the request path would take the runtime's slow path).
    func pick(hash: UInt64?, excluding tried: TriedEndpoints, at now: MonotonicClock.Instant, of cluster: UpstreamCluster) -> Pick {
        let sharing = self.sharing
        let sharedRules = sharing?.isActive == true
        var wantProbe: [Int] = []
        let pick: Pick = health.state.withLockedValue { s in
            var refused: [Int] = []
            var retryAfter: Duration?
            while true {
                // Through a pointer to the fields: a closure calling a method of the captured `inout` state copied all
                // of it (its arrays) per pick.
                let choice = withUnsafePointer(to: &s) { state in
                    balancer.pick(hash: hash) { i in
                        !tried.contains(i) && !refused.contains(i) && ClusterHealth.State.isUsable(i, in: state, at: now)
                    }
                }
                guard let i = choice else { break }
                guard s.breakersEnabled else { return .endpoint(i, probe: false) }
                let before = s.breakers[i].state
                switch s.breakers[i].admit(at: now) {
                case .allowed: return .endpoint(i, probe: false)
                case .probe:
                    // A breaker the cluster opened probes with the cluster's tokens: a recovering upstream sees
                    // max_probes requests from all the instances together, not from each.
                    if sharedRules, s.sharedOpened[i] {
                        guard s.probePermits[i] > 0 else {
                            s.breakers[i].probeAbandoned()
                            wantProbe.append(i)
                            refused.append(i)
                            let wait = s.breakers[i].configuration.probeRetryAfter
                            retryAfter = min(retryAfter ?? wait, wait)
                            continue
                        }
                        s.probePermits[i] -= 1
                    }
                    return .endpoint(i, probe: true, halfOpened: before == .open)
                case .rejected(let wait):
                    refused.append(i)
                    retryAfter = min(retryAfter ?? wait, wait)
                }
            }
            if let retryAfter { return .breakersOpen(retryAfter: retryAfter) }
            // Nothing usable: say why, for the 503 (open breakers give a Retry-After).
            var shortest: Duration?
            for i in 0..<health.endpointCount where !tried.contains(i) && s.checks.isHealthy(i) {
                if s.outliersEnabled, s.outliers.isEjected(i, at: now) { continue }
                if s.breakersEnabled, case .rejected(let wait) = s.breakers[i].peek(at: now) {
                    shortest = min(shortest ?? wait, wait)
                }
            }
            if let shortest { return .breakersOpen(retryAfter: shortest) }
            return .noHealthyEndpoint
        }
        if let sharing {
            for i in wantProbe { sharing.requestProbe(SharedBreakerID(cluster: cluster, endpoint: i)) }
        }
        return pick
    }
}
