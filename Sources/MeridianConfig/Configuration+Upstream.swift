extension Configuration {
    /// A named cluster of upstream endpoints that `proxy` routes send requests to.
    public struct Upstream: Sendable, Equatable {
        public var name: String
        public var endpoints: [Endpoint]
        /// The load-balancing policy by name (`round_robin`, `least_request`, `p2c_ewma`, `random`,
        /// `ring_hash`, `maglev`).
        public var balancing: Balancing
        /// DNS names in endpoints are resolved at start and again this often (off the event loops).
        public var resolveInterval: Duration
        public var pool: Pool
        public var timeouts: UpstreamTimeouts
        public var retries: Retries
        public var circuitBreaker: CircuitBreaker
        public var outlierDetection: OutlierDetection
        public var healthCheck: HealthCheck?
        /// TLS to the endpoints; nil for plaintext.
        public var tls: UpstreamTLS?
        /// `http1` (keep-alive pools) or `http2` (one multiplexed connection per event loop and
        /// endpoint: ALPN h2 over TLS, prior knowledge in plaintext; trailers pass, so gRPC works).
        public var httpProtocol: String = "http1"
        /// Requests in flight to the cluster (per instance) before new ones answer 503 at once.
        public var maxActive: Int
        /// Requests waiting for a connection (per instance) before new ones answer 503 at once.
        public var maxPending: Int

        public init(
            name: String, endpoints: [Endpoint], balancing: Balancing = Balancing(), resolveInterval: Duration = .seconds(30),
            pool: Pool = Pool(), timeouts: UpstreamTimeouts = UpstreamTimeouts(), retries: Retries = Retries(),
            circuitBreaker: CircuitBreaker = CircuitBreaker(), outlierDetection: OutlierDetection = OutlierDetection(),
            healthCheck: HealthCheck? = nil, maxActive: Int = 10_000, maxPending: Int = 1_000
        ) {
            self.name = name
            self.endpoints = endpoints
            self.balancing = balancing
            self.resolveInterval = resolveInterval
            self.pool = pool
            self.timeouts = timeouts
            self.retries = retries
            self.circuitBreaker = circuitBreaker
            self.outlierDetection = outlierDetection
            self.healthCheck = healthCheck
            self.maxActive = maxActive
            self.maxPending = maxPending
        }

        /// TLS on connections to the endpoints (and the health checks).
        public struct UpstreamTLS: Sendable, Equatable {
            /// The SNI name and the name the certificate must carry; nil uses the endpoint's host
            /// when it is a DNS name (an IP address sends no SNI and is checked as an IP SAN).
            public var serverName: String?
            /// PEM file of the CAs to trust; nil trusts the system's roots.
            public var ca: String?
            /// Client certificate chain and key (PEM) for upstreams that ask for one (mTLS).
            public var certificate: String?
            public var key: String?
            /// Check the certificate chain and name. Off only for tests and trusted networks.
            public var verify: Bool
            public init(serverName: String? = nil, ca: String? = nil, certificate: String? = nil, key: String? = nil, verify: Bool = true) {
                self.serverName = serverName
                self.ca = ca
                self.certificate = certificate
                self.key = key
                self.verify = verify
            }
        }

        public struct Endpoint: Sendable, Equatable {
            /// An IP address or a DNS name.
            public var host: String
            public var port: Int
            public var weight: Int
            public init(host: String, port: Int, weight: Int = 1) {
                self.host = host
                self.port = port
                self.weight = weight
            }
        }

        public struct Balancing: Sendable, Equatable {
            public enum HashOn: Sendable, Equatable {
                case clientIP
                case header(String)
                case cookie(String)
            }
            public var policy: String
            /// What hashing policies hash; nil for the others.
            public var hashOn: HashOn?
            public init(policy: String = "round_robin", hashOn: HashOn? = nil) {
                self.policy = policy
                self.hashOn = hashOn
            }
            public static let policies = ["round_robin", "least_request", "p2c_ewma", "random", "ring_hash", "maglev"]
            public static let hashingPolicies: Set<String> = ["ring_hash", "maglev"]
        }

        /// Keep-alive connections, per event loop and endpoint (Envoy keeps one pool per worker).
        public struct Pool: Sendable, Equatable {
            public var maxIdle: Int
            public var idleTimeout: Duration
            public var maxRequestsPerConnection: Int
            public var maxConnections: Int
            public init(maxIdle: Int = 64, idleTimeout: Duration = .seconds(60), maxRequestsPerConnection: Int = 10_000, maxConnections: Int = 1_024) {
                self.maxIdle = maxIdle
                self.idleTimeout = idleTimeout
                self.maxRequestsPerConnection = maxRequestsPerConnection
                self.maxConnections = maxConnections
            }
        }

        public struct UpstreamTimeouts: Sendable, Equatable {
            public var connect: Duration
            /// From the request's head leaving until the response head arrives.
            public var firstByte: Duration
            /// Longest pause between two pieces of the response body.
            public var idle: Duration
            /// The whole exchange, all tries together; nil for none.
            public var total: Duration?
            public init(connect: Duration = .seconds(5), firstByte: Duration = .seconds(60), idle: Duration = .seconds(60), total: Duration? = nil) {
                self.connect = connect
                self.firstByte = firstByte
                self.idle = idle
                self.total = total
            }
        }

        public struct Retries: Sendable, Equatable {
            public var max: Int
            /// `connect_failure`, `reset`, `timeout`, `5xx`, `gateway_error`.
            public var on: [String]
            public var perTryTimeout: Duration?
            /// At most this share of active requests may be retries (Envoy's retry budget).
            public var budgetPercent: Double
            /// Retries always allowed, whatever the budget says.
            public var minConcurrency: Int
            /// A request body is replayable while it fits this many bytes.
            public var replayBuffer: Int
            public init(
                max: Int = 2, on: [String] = ["connect_failure", "reset", "gateway_error"], perTryTimeout: Duration? = nil,
                budgetPercent: Double = 20, minConcurrency: Int = 3, replayBuffer: Int = 64 * 1024
            ) {
                self.max = max
                self.on = on
                self.perTryTimeout = perTryTimeout
                self.budgetPercent = budgetPercent
                self.minConcurrency = minConcurrency
                self.replayBuffer = replayBuffer
            }
            public static let conditions = ["connect_failure", "reset", "timeout", "5xx", "gateway_error"]
        }

        public struct CircuitBreaker: Sendable, Equatable {
            public var enabled: Bool
            public var failureRatio: Double
            public var minimumRequests: Int
            public var window: Duration
            public var openFor: Duration
            public var maxOpenFor: Duration
            public var maxProbes: Int
            /// Share outcomes and transitions with the other instances through Redis (when `redis:` is configured).
            public var shared: Bool
            /// The cluster-wide open needs failures reported by at least this many instances...
            public var minReportingInstances: Int
            /// ...or by at least this share of the live instances (0 = the count alone decides).
            public var minReportingShare: Double
            public init(
                enabled: Bool = true, failureRatio: Double = 0.5, minimumRequests: Int = 20, window: Duration = .seconds(10),
                openFor: Duration = .seconds(5), maxOpenFor: Duration = .seconds(60), maxProbes: Int = 3, shared: Bool = true,
                minReportingInstances: Int = 2, minReportingShare: Double = 0
            ) {
                self.shared = shared
                self.minReportingInstances = minReportingInstances
                self.minReportingShare = minReportingShare
                self.enabled = enabled
                self.failureRatio = failureRatio
                self.minimumRequests = minimumRequests
                self.window = window
                self.openFor = openFor
                self.maxOpenFor = maxOpenFor
                self.maxProbes = maxProbes
            }
        }

        public struct OutlierDetection: Sendable, Equatable {
            public var enabled: Bool
            public var consecutive5xx: Int
            public var consecutiveGatewayFailures: Int
            public var baseEjection: Duration
            public var maxEjection: Duration
            public var maxEjectionPercent: Int
            public init(
                enabled: Bool = true, consecutive5xx: Int = 5, consecutiveGatewayFailures: Int = 5, baseEjection: Duration = .seconds(30),
                maxEjection: Duration = .seconds(300), maxEjectionPercent: Int = 10
            ) {
                self.enabled = enabled
                self.consecutive5xx = consecutive5xx
                self.consecutiveGatewayFailures = consecutiveGatewayFailures
                self.baseEjection = baseEjection
                self.maxEjection = maxEjection
                self.maxEjectionPercent = maxEjectionPercent
            }
        }

        public struct HealthCheck: Sendable, Equatable {
            public var path: String
            public var interval: Duration
            public var jitter: Duration
            public var timeout: Duration
            /// Status ranges that pass, like 200-399.
            public var expectedStatuses: [ClosedRange<Int>]
            public var healthyThreshold: Int
            public var unhealthyThreshold: Int
            /// The Host header of checks; nil sends the endpoint's host.
            public var host: String?
            public init(
                path: String = "/", interval: Duration = .seconds(5), jitter: Duration = .seconds(1), timeout: Duration = .seconds(2),
                expectedStatuses: [ClosedRange<Int>] = [200...399], healthyThreshold: Int = 2, unhealthyThreshold: Int = 3, host: String? = nil
            ) {
                self.path = path
                self.interval = interval
                self.jitter = jitter
                self.timeout = timeout
                self.expectedStatuses = expectedStatuses
                self.healthyThreshold = healthyThreshold
                self.unhealthyThreshold = unhealthyThreshold
                self.host = host
            }
        }
    }

    /// Sends the request to an upstream cluster and streams its answer back.
    public struct ProxyAction: Sendable, Equatable {
        public enum HostHeader: Sendable, Equatable {
            /// The client's Host goes upstream unchanged (nginx `proxy_set_header Host $host`).
            case pass
            /// The endpoint's `host:port` (nginx's default `$proxy_host`).
            case upstream
            case fixed(String)
        }
        public struct HeaderRules: Sendable, Equatable {
            public var `set`: [(String, String)]
            public var add: [(String, String)]
            public var remove: [String]
            public init(set: [(String, String)] = [], add: [(String, String)] = [], remove: [String] = []) {
                self.set = set
                self.add = add
                self.remove = remove
            }
            public var isEmpty: Bool { self.set.isEmpty && add.isEmpty && remove.isEmpty }
            public static func == (lhs: HeaderRules, rhs: HeaderRules) -> Bool {
                lhs.set.elementsEqual(rhs.set, by: ==) && lhs.add.elementsEqual(rhs.add, by: ==) && lhs.remove == rhs.remove
            }
        }
        public var upstream: String
        /// Remove this literal prefix from the path before it goes upstream (the rest keeps its `/`).
        public var stripPrefix: String?
        /// Rewrite the path with a regular expression: `$1`... are its groups.
        public var rewrite: (regex: String, to: String)?
        public var host: HostHeader
        public var requestHeaders: HeaderRules
        public var responseHeaders: HeaderRules
        /// The largest body this route takes (instead of `limits.max_body_bytes`).
        public var maxBodyBytes: Int?

        public init(
            upstream: String, stripPrefix: String? = nil, rewrite: (regex: String, to: String)? = nil, host: HostHeader = .pass,
            requestHeaders: HeaderRules = HeaderRules(), responseHeaders: HeaderRules = HeaderRules(), maxBodyBytes: Int? = nil
        ) {
            self.upstream = upstream
            self.stripPrefix = stripPrefix
            self.rewrite = rewrite
            self.host = host
            self.requestHeaders = requestHeaders
            self.responseHeaders = responseHeaders
            self.maxBodyBytes = maxBodyBytes
        }

        public static func == (lhs: ProxyAction, rhs: ProxyAction) -> Bool {
            lhs.upstream == rhs.upstream && lhs.stripPrefix == rhs.stripPrefix && lhs.rewrite?.regex == rhs.rewrite?.regex
                && lhs.rewrite?.to == rhs.rewrite?.to && lhs.host == rhs.host && lhs.requestHeaders == rhs.requestHeaders
                && lhs.responseHeaders == rhs.responseHeaders && lhs.maxBodyBytes == rhs.maxBodyBytes
        }
    }
}
