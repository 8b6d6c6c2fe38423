internal import Foundation
public import Logging
public import MeridianConfig
public import MeridianCore
internal import MeridianActions
public import MeridianCluster
public import MeridianCompression
public import MeridianCache
public import MeridianProxy
public import MeridianSecurity
internal import MeridianStatic
public import MeridianTelemetry
public import MeridianWebSocket
public import NIOCore
public import NIOPosix
internal import NIOHTTP1
internal import AsyncHTTPClient
internal import NIOConcurrencyHelpers

/// Turns a validated configuration into the runtime the connections use: hosts, routes and the
/// responders behind them. A reload builds a new one and swaps it in whole.
public struct RuntimeBuilder: Sendable {
    let group: any EventLoopGroup
    let threadPool: NIOThreadPool
    let logger: Logger
    let observers: [any RequestObserver]
    let telemetry: Telemetry?
    /// The process environment, for secrets the configuration names (`secret_env`).
    let environment: [String: String]
    /// The upstream clusters, kept across reloads.
    public let upstreams: UpstreamRegistry
    /// Global rate limits through Redis; nil without `redis:` (global limits then count locally).
    let globalLimits: GlobalRateLimits?
    public let rateLimitStats: RateLimitStats
    /// Compressed variants of static files, and what compression did (one of each per process).
    public let compressionCache = VariantCache()
    public let compressionStats = CompressionStats()
    /// The HTTP cache (its stores are made once, from the first configuration's `cache:`).
    public let httpCache: HTTPCache
    /// The WebSocket and SSE channels (one hub per process, across reloads).
    public let channels: ChannelHub
    /// What address rules and authenticators did.
    public let securityStats = SecurityStats()
    /// Brute-force bans through Redis; nil without `redis:` (bans are then per instance).
    let banSharing: (any BanSharing)?
    /// WAF engines by settings: loading the CRS takes a second and tens of MB, so routes (and reloads) with the
    /// same settings share one.
    let wafEngines = NIOLockedValueBox<[Configuration.WAF: WAFEngine]>([:])
    /// The HTTP client of forward auth, on the server's event loops (made when a configuration first needs one).
    let authClient = NIOLockedValueBox<HTTPClient?>(nil)
    /// The `brute_force:` guard of the running configuration, kept across reloads that leave it unchanged.
    let bruteForce = NIOLockedValueBox<BruteForceGuard?>(nil)

    public init(
        group: any EventLoopGroup, threadPool: NIOThreadPool, logger: Logger, observers: [any RequestObserver] = [],
        telemetry: Telemetry? = nil, upstreams: UpstreamRegistry? = nil, globalLimits: GlobalRateLimits? = nil,
        rateLimitStats: RateLimitStats = RateLimitStats(), httpCache: HTTPCache? = nil, channels: ChannelHub? = nil,
        environment: [String: String] = [:], banSharing: (any BanSharing)? = nil
    ) {
        self.environment = environment
        self.banSharing = banSharing
        self.channels = channels ?? ChannelHub(config: .init(), logger: logger)
        self.httpCache = httpCache ?? HTTPCache(config: .init(), redis: nil, logger: logger)
        self.upstreams = upstreams ?? UpstreamRegistry(group: group, logger: logger, observer: telemetry?.upstreamObserver)
        self.globalLimits = globalLimits
        self.rateLimitStats = rateLimitStats
        self.group = group
        self.threadPool = threadPool
        self.logger = logger
        self.observers = observers
        self.telemetry = telemetry
    }

    /// Builds the runtime for `config`. Upstream clusters whose settings did not change are reused;
    /// the ones the new runtime drops retire when it is built (the caller swaps it in at once).
    public func build(_ config: Configuration, generation: Int) throws -> ServerRuntime {
        let clusters = try upstreams.prepare(config.upstreams)
        let trusted = config.server.trustedProxies.compactMap { IPNetwork(parsing: $0) }
        let listenerAccess = Dictionary(config.listeners.compactMap { l in l.access.map { (l.name, $0) } }, uniquingKeysWith: { a, _ in a })
        let guardian = bruteForceGuard(config.bruteForce)
        var authenticators: [String: any RequestAuthenticator] = [:]
        for a in config.auth { authenticators[a.name] = try makeAuthenticator(a, trusted: trusted) }
        var hosts: [Router.VirtualHost] = []
        for host in config.hosts {
            var routes: [Router.Route] = []
            for (i, route) in host.routes.enumerated() {
                var responder = try makeResponder(route.action, config: config, clusters: clusters, trusted: trusted, route: route.label)
                var middleware: [any Middleware] = []
                // Address rules first (nothing else runs for a refused client); headers and CORS outside the limits
                // and authentication, so their answers (429, 401) carry them too and a browser can read them; a
                // preflight is answered before authentication (it carries no credentials).
                if !listenerAccess.isEmpty || route.security.access != nil {
                    middleware.append(
                        AccessMiddleware(
                            listeners: listenerAccess, route: route.security.access, trustedProxies: trusted, routeLabel: route.label, stats: securityStats
                        )
                    )
                }
                if let headers = route.security.headers { middleware.append(try SecurityHeadersMiddleware(headers)) }
                if let cors = route.security.cors { middleware.append(try CORSMiddleware(cors)) }
                if let limit = route.rateLimit {
                    if limit.scope == .global, globalLimits == nil, generation == 1 {
                        logger.warning(
                            "rate limit with scope global but no redis section: it counts on this instance alone",
                            metadata: ["policy": "\(limit.name)"]
                        )
                    }
                    middleware.append(RateLimitMiddleware(limit, trustedProxies: trusted, global: globalLimits, stats: rateLimitStats))
                }
                if let waf = route.security.waf {
                    middleware.append(
                        WAFMiddleware(engine: try wafEngine(waf), settings: waf, trustedProxies: trusted, route: route.label, stats: securityStats)
                    )
                }
                if let name = route.security.auth, let authenticator = authenticators[name] {
                    middleware.append(
                        AuthMiddleware(name: name, authenticator: authenticator, stats: securityStats, bruteForce: guardian, trustedProxies: trusted)
                    )
                }
                // With a cache, the route's own headers go outside it (a reload changes them at once, not as entries
                // expire) and compression inside it (the cache keeps each encoding as a variant, per Vary).
                if route.cache != nil, !route.headers.isEmpty { middleware.append(ResponseHeadersMiddleware(route.headers)) }
                if let rules = route.cache { middleware.append(CacheMiddleware(rules, cache: httpCache, route: route.label)) }
                let compression = route.compression ?? config.compression
                if compression.enabled {
                    middleware.append(CompressionMiddleware(compression, threadPool: threadPool, cache: compressionCache, stats: compressionStats))
                }
                if route.cache == nil, !route.headers.isEmpty { middleware.append(ResponseHeadersMiddleware(route.headers)) }
                if !middleware.isEmpty { responder = MiddlewareChain(middleware, responder: responder) }
                routes.append(
                    Router.Route(
                        pattern: try RoutePattern(RoutePattern.Source(route.match.path)),
                        methods: route.match.methods.map { HTTPMethod(rawValue: $0) },
                        headers: route.match.headers.map(Router.HeaderCondition.init),
                        query: try route.match.query.map(Router.QueryCondition.init),
                        responder: responder,
                        name: route.name,
                        order: i,
                        maxBodyBytes: Self.bodyLimit(of: route.action)
                    )
                )
            }
            hosts.append(Router.VirtualHost(names: host.names, isDefault: host.isDefault, routes: routes))
        }
        var runtimeLogger = logger
        runtimeLogger.logLevel = Logger.Level(config.logging.level)
        upstreams.commit(clusters)
        return ServerRuntime(
            router: Router(hosts: hosts), limits: ServerLimits(config.limits), timeouts: ServerTimeouts(config.timeouts),
            serverHeader: config.server.serverHeader, generation: generation, logger: runtimeLogger, observers: observers,
            tracing: telemetry?.tracing
        )
    }

    private func wafEngine(_ settings: Configuration.WAF) throws -> WAFEngine {
        if let engine = wafEngines.withLockedValue({ $0[settings] }) { return engine }
        var configuration = WAFEngine.Configuration(
            mode: settings.mode == .blocking ? .blocking : .detection, paranoiaLevel: settings.paranoiaLevel,
            anomalyThreshold: settings.anomalyThreshold, maxBodyBytes: settings.maxBodyBytes
        )
        if let methods = settings.allowedMethods { configuration.allowedMethods = methods }
        if let types = settings.allowedContentTypes { configuration.allowedContentTypes = types }
        if !settings.excludedRules.isEmpty {
            configuration.rulesAfterCRS.append(.inline(settings.excludedRules.map { "SecRuleRemoveById \($0)" }.joined(separator: "\n")))
        }
        let engine = try WAFEngine(configuration: configuration)
        wafEngines.withLockedValue { $0[settings] = engine }
        return engine
    }

    /// The guard for `config`: the running one when its settings did not change (its local bans stay), else a new one.
    private func bruteForceGuard(_ config: Configuration.BruteForce?) -> BruteForceGuard? {
        bruteForce.withLockedValue { current in
            guard let config else {
                current = nil
                return nil
            }
            if let existing = current, existing.config == config { return existing }
            let made = BruteForceGuard(config, sharing: banSharing)
            current = made
            return made
        }
    }

    /// Stops what the builder made on its own (the forward-auth client); at shutdown.
    public func shutdown() async {
        let client = authClient.withLockedValue { c in
            defer { c = nil }
            return c
        }
        try? await client?.shutdown()
    }

    private func makeAuthenticator(_ a: Configuration.Authenticator, trusted: [IPNetwork]) throws -> any RequestAuthenticator {
        switch a.kind {
        case .apiKey(let c): return try APIKeyAuthenticator(c, name: a.name)
        case .basic(let c): return try BasicAuthenticator(c)
        case .jwt(let c): return try JWTAuthenticator(c, name: a.name, logger: logger, environment: environment)
        case .session(let c): return try SessionAuthenticator(c, environment: environment)
        case .forward(let c):
            let client = authClient.withLockedValue { client in
                if let client { return client }
                var settings = HTTPClient.Configuration()
                settings.redirectConfiguration = .disallow  // a 302 to a login page is the client's answer, not ours to follow
                let made = HTTPClient(eventLoopGroup: group, configuration: settings)
                client = made
                return made
            }
            return ForwardAuthenticator(c, client: client, trustedProxies: trusted)
        }
    }

    private func makeResponder(
        _ action: Configuration.Action, config: Configuration, clusters: [String: UpstreamCluster], trusted: [IPNetwork], route: String
    ) throws -> any Responder {
        switch action {
        case .static(let a):
            let root = Self.absolute(a.root ?? config.defaults.root)
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) || !isDirectory.boolValue {
                logger.warning("static root is not a directory; its routes will answer 404", metadata: ["root": "\(root)"])
            }
            return StaticFileResponder(action: a, root: root, group: group, threadPool: threadPool)
        case .redirect(let a):
            return RedirectResponder(a)
        case .respond(let a):
            return FixedResponder(a)
        case .upload(let a):
            let root = Self.absolute(a.root)
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) || !isDirectory.boolValue {
                logger.warning("upload root is not a directory; its routes will answer 409", metadata: ["root": "\(root)"])
            }
            return UploadResponder(action: a, root: root, threadPool: threadPool)
        case .proxy(let a):
            guard let cluster = clusters[a.upstream] else { throw UnknownUpstream(name: a.upstream) }
            return try ProxyResponder(a, cluster: cluster, trustedProxies: trusted, viaName: config.server.serverHeader, observer: telemetry?.upstreamObserver)
        case .websocket(let a):
            return WebSocketResponder(a, hub: channels, route: route)
        case .sse(let a):
            return SSEResponder(a, hub: channels, route: route)
        }
    }

    /// A route's own request body limit, when its action sets one.
    static func bodyLimit(of action: Configuration.Action) -> Int? {
        switch action {
        case .upload(let a): return a.maxBytes
        case .proxy(let a): return a.maxBodyBytes
        default: return nil
        }
    }

    /// Relative roots are taken from the working directory at load time.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let cwd = FileManager.default.currentDirectoryPath
        var p = Substring(path)
        while p.hasPrefix("./") { p = p.dropFirst(2) }
        return p.isEmpty || p == "." ? cwd : cwd + "/" + p
    }

    /// The admin listener's routes: probes, `/metrics` and the status page.
    public func buildAdmin(_ config: Configuration, health: HealthRegistry, generation: Int) -> ServerRuntime {
        var routes: [Router.Route] = []
        for probe in HealthRegistry.Probe.allCases {
            routes.append(Router.Route(pattern: .exact("/\(probe.rawValue)"), responder: ProbeResponder(registry: health, probe: probe)))
        }
        routes += telemetry?.adminRoutes() ?? []
        routes.append(Router.Route(pattern: .exact("/cache/purge"), responder: CachePurgeResponder(cache: httpCache)))
        routes.append(Router.Route(pattern: try! RoutePattern(.pattern("/publish/:channel")), responder: ChannelPublishResponder(hub: channels)))
        let bruteForce = self.bruteForce
        let bans = BanAdminResponder { bruteForce.withLockedValue { $0 } }
        routes.append(Router.Route(pattern: .exact("/auth/bans"), responder: bans))
        routes.append(Router.Route(pattern: try! RoutePattern(.pattern("/auth/bans/:key")), responder: bans))
        var limits = ServerLimits(config.limits)
        limits.maxConnections = 256
        var adminLogger = logger
        adminLogger.logLevel = Logger.Level(config.logging.level)
        return ServerRuntime(
            router: Router(hosts: [Router.VirtualHost(names: [], isDefault: true, routes: routes)]),
            limits: limits, timeouts: ServerTimeouts(config.timeouts), serverHeader: config.server.serverHeader,
            generation: generation, logger: adminLogger
        )
    }
}

extension Logger.Level {
    public init(_ level: Configuration.Logging.Level) {
        switch level {
        case .trace: self = .trace
        case .debug: self = .debug
        case .info: self = .info
        case .notice: self = .notice
        case .warning: self = .warning
        case .error: self = .error
        case .critical: self = .critical
        }
    }
}

/// A proxy route names a cluster the configuration does not define (validation catches this first).
struct UnknownUpstream: Error, CustomStringConvertible {
    var name: String
    var description: String { "upstream '\(name)' is not defined" }
}
