/// The whole, validated configuration of one Meridian instance.
///
/// Every value has a safe default, so an empty file (or no file) is a valid configuration:
/// it serves `./public` on `0.0.0.0:8080` with the admin listener on `127.0.0.1:9901`.
public struct Configuration: Sendable, Equatable {
    public var listeners: [Listener]
    public var admin: Admin
    public var server: Server
    public var limits: Limits
    public var timeouts: Timeouts
    public var lifecycle: Lifecycle
    public var logging: Logging
    public var telemetry: Telemetry
    public var defaults: Defaults
    public var hosts: [Host]
    public var upstreams: [Upstream]
    /// Where instances share state; nil = everything local.
    public var redis: Redis? = nil
    /// Compression for every route (a route's own `compression:` replaces it).
    public var compression = Compression()
    /// The HTTP cache's stores (routes opt in with their own `cache:`).
    public var cache = CacheStores()
    public var channels = Channels()
    /// The named authenticators routes choose with `auth: NAME`.
    public var auth: [Authenticator] = []
    /// Bans after repeated failed authentications; nil: none.
    public var bruteForce: BruteForce? = nil

    public init(
        listeners: [Listener] = [Listener()],
        admin: Admin = Admin(),
        server: Server = Server(),
        limits: Limits = Limits(),
        timeouts: Timeouts = Timeouts(),
        lifecycle: Lifecycle = Lifecycle(),
        logging: Logging = Logging(),
        telemetry: Telemetry = Telemetry(),
        defaults: Defaults = Defaults(),
        hosts: [Host] = [Host.catchAll],
        upstreams: [Upstream] = []
    ) {
        self.upstreams = upstreams
        self.listeners = listeners
        self.admin = admin
        self.server = server
        self.limits = limits
        self.timeouts = timeouts
        self.lifecycle = lifecycle
        self.logging = logging
        self.telemetry = telemetry
        self.defaults = defaults
        self.hosts = hosts
    }

    /// A socket address as written in the configuration (`host:port`, `[::1]:port`).
    public struct Address: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces).
        public init?(parsing text: String) {
            let text = text.trimmingSpaces()
            let hostPart: Substring
            let portPart: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]") else { return nil }
                hostPart = text[text.index(after: text.startIndex)..<close]
                let rest = text[text.index(after: close)...]
                guard rest.hasPrefix(":") else { return nil }
                portPart = rest.dropFirst()
            } else {
                guard let colon = text.lastIndex(of: ":") else { return nil }
                hostPart = text[..<colon]
                portPart = text[text.index(after: colon)...]
                if hostPart.contains(":") { return nil }
            }
            guard let port = Int(portPart), (0...65535).contains(port) else { return nil }
            self.host = hostPart.isEmpty ? "0.0.0.0" : String(hostPart)
            self.port = port
        }

        public var description: String {
            host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }

    public struct Listener: Sendable, Equatable {
        public var name: String
        public var address: Address
        /// Bind one socket per event loop with SO_REUSEPORT so the kernel spreads connections.
        public var reusePort: Bool
        public var backlog: Int
        /// Plaintext HTTP/1.1 static bodies go out with sendfile(2) when true.
        public var sendfile: Bool
        /// TLS on this listener; nil for plaintext.
        public var tls: TLS?
        public var http2: HTTP2
        /// When set, every request on this listener is answered 308 to this target (for example
        /// `https://$host$request_uri`): the plaintext listener that sends clients to TLS.
        public var redirect: String?
        /// Client addresses allowed on this listener (every route on it checks them first).
        public var access: AccessRules?

        public init(
            name: String = "http",
            address: Address = Address(host: "0.0.0.0", port: 8080),
            reusePort: Bool = true,
            backlog: Int = 1024,
            sendfile: Bool = true,
            tls: TLS? = nil,
            http2: HTTP2 = HTTP2(),
            redirect: String? = nil
        ) {
            self.name = name
            self.address = address
            self.reusePort = reusePort
            self.backlog = backlog
            self.sendfile = sendfile
            self.tls = tls
            self.http2 = http2
            self.redirect = redirect
        }
    }

    public struct Admin: Sendable, Equatable {
        public var address: Address?
        public init(address: Address? = Address(host: "127.0.0.1", port: 9901)) {
            self.address = address
        }
    }

    public struct Server: Sendable, Equatable {
        /// Event loop threads; 0 means one per core.
        public var eventLoops: Int
        /// The `Server` response header; empty sends none.
        public var serverHeader: String
        /// Peers (CIDRs) whose `X-Forwarded-For` and `Forwarded` headers are believed and extended;
        /// from anyone else they are replaced.
        public var trustedProxies: [String]
        public init(eventLoops: Int = 0, serverHeader: String = "meridian", trustedProxies: [String] = []) {
            self.eventLoops = eventLoops
            self.serverHeader = serverHeader
            self.trustedProxies = trustedProxies
        }
    }

    public struct Limits: Sendable, Equatable {
        public var maxConnections: Int
        /// Longest request line (method, target, version); longer answers 414.
        public var maxRequestLine: Int
        /// Largest header section in bytes; larger answers 431.
        public var maxHeaderBytes: Int
        /// Most header fields; more answers 431.
        public var maxHeaderCount: Int
        /// Largest request body; larger answers 413.
        public var maxBodyBytes: Int
        /// Requests served on one keep-alive connection before it is closed.
        public var maxRequestsPerConnection: Int

        public init(
            maxConnections: Int = 10_000,
            maxRequestLine: Int = 8 * 1024,
            maxHeaderBytes: Int = 32 * 1024,
            maxHeaderCount: Int = 100,
            maxBodyBytes: Int = 10 * 1024 * 1024,
            maxRequestsPerConnection: Int = 10_000
        ) {
            self.maxConnections = maxConnections
            self.maxRequestLine = maxRequestLine
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxBodyBytes = maxBodyBytes
            self.maxRequestsPerConnection = maxRequestsPerConnection
        }
    }

    public struct Timeouts: Sendable, Equatable {
        /// From the first byte of a request until its header section is complete (slowloris); answers 408.
        public var headerRead: Duration
        /// An idle keep-alive connection is closed after this long.
        public var idle: Duration
        /// Longest pause between two reads of a request body; answers 408.
        public var bodyRead: Duration
        /// Longest pause while the client does not accept response bytes.
        public var send: Duration

        public init(
            headerRead: Duration = .seconds(10),
            idle: Duration = .seconds(60),
            bodyRead: Duration = .seconds(30),
            send: Duration = .seconds(60)
        ) {
            self.headerRead = headerRead
            self.idle = idle
            self.bodyRead = bodyRead
            self.send = send
        }
    }

    public struct Lifecycle: Sendable, Equatable {
        /// After SIGTERM, how long `/readyz` fails before the listeners close (lets load balancers notice).
        public var drainDelay: Duration
        /// Longest wait for in-flight requests after the listeners close.
        public var shutdownTimeout: Duration
        /// SIGINT's shorter grace period for in-flight requests (no drain delay).
        public var interruptTimeout: Duration

        public init(
            drainDelay: Duration = .seconds(5),
            shutdownTimeout: Duration = .seconds(30),
            interruptTimeout: Duration = .seconds(2)
        ) {
            self.drainDelay = drainDelay
            self.shutdownTimeout = shutdownTimeout
            self.interruptTimeout = interruptTimeout
        }
    }

    public struct Logging: Sendable, Equatable {
        public enum Level: String, Sendable, CaseIterable {
            case trace, debug, info, notice, warning, error, critical
        }
        public enum Format: String, Sendable, CaseIterable {
            case json, text
        }
        public var level: Level
        public var format: Format
        public init(level: Level = .info, format: Format = .json) {
            self.level = level
            self.format = format
        }
    }

    /// Values that actions use when they do not set their own.
    public struct Defaults: Sendable, Equatable {
        /// The document root of `static` actions that name none.
        public var root: String
        public init(root: String = "./public") {
            self.root = root
        }
    }

    /// A virtual host: the names it answers to and its routes.
    public struct Host: Sendable, Equatable {
        /// Exact names (`example.com`) and leading wildcards (`*.example.com`).
        public var names: [String]
        /// The host for requests whose Host matches no other host's names.
        public var isDefault: Bool
        public var routes: [Route]

        public init(names: [String] = [], isDefault: Bool = false, routes: [Route] = []) {
            self.names = names
            self.isDefault = isDefault
            self.routes = routes
        }

        /// The host of the no-config setup: every name, every path, static files from `defaults.root`.
        public static let catchAll = Host(
            names: [],
            isDefault: true,
            routes: [Route(match: .init(path: .prefix("/")), action: .static(StaticAction()))]
        )
    }

    public struct Route: Sendable, Equatable {
        public var name: String?
        public var match: Match
        public var action: Action
        /// Response headers added to every answer of this route.
        public var headers: [(String, String)]
        public var rateLimit: RateLimit?
        /// The route's compression (the top-level `compression:` when it says nothing of its own).
        public var compression: Compression?
        /// HTTP caching of the route's responses (proxy routes only).
        public var cache: Cache?
        /// Address rules, CORS, security headers and authentication.
        public var security: RouteSecurity

        public init(
            name: String? = nil, match: Match, action: Action, headers: [(String, String)] = [], rateLimit: RateLimit? = nil,
            compression: Compression? = nil, cache: Cache? = nil, security: RouteSecurity = RouteSecurity()
        ) {
            self.security = security
            self.cache = cache
            self.rateLimit = rateLimit
            self.compression = compression
            self.name = name
            self.match = match
            self.action = action
            self.headers = headers
        }

        public static func == (lhs: Route, rhs: Route) -> Bool {
            lhs.name == rhs.name && lhs.match == rhs.match && lhs.action == rhs.action && lhs.rateLimit == rhs.rateLimit
                && lhs.compression == rhs.compression && lhs.cache == rhs.cache && lhs.security == rhs.security
                && lhs.headers.elementsEqual(rhs.headers, by: { $0 == $1 })
        }
    }

    public struct Match: Sendable, Equatable {
        public enum Path: Sendable, Equatable {
            /// `path: /exact` — only this path.
            case exact(String)
            /// `path: /users/:id/*` — segments with `:name` parameters and a trailing `*` wildcard.
            case pattern(String)
            /// `prefix: /static/` — any path that starts with this string.
            case prefix(String)
            /// `regex: ^/v[0-9]+/` — a regular expression over the path.
            case regex(String)
        }
        public var path: Path
        /// Upper-case methods; empty matches every method.
        public var methods: [String]
        /// Header conditions: the header must be present, and equal the value when one is given.
        public var headers: [HeaderCondition]
        /// Query parameter conditions.
        public var query: [QueryCondition]

        public init(path: Path, methods: [String] = [], headers: [HeaderCondition] = [], query: [QueryCondition] = []) {
            self.path = path
            self.methods = methods
            self.headers = headers
            self.query = query
        }
    }

    public struct HeaderCondition: Sendable, Equatable {
        public var name: String
        /// nil: the header only needs to be present.
        public var value: String?
        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }
    }

    /// A query parameter that must be present, equal a value, or match a regular expression.
    public struct QueryCondition: Sendable, Equatable {
        public enum Test: Sendable, Equatable {
            case present
            case equals(String)
            case regex(String)
        }
        public var name: String
        public var test: Test
        public init(name: String, test: Test) {
            self.name = name
            self.test = test
        }
    }

    public enum Action: Sendable, Equatable {
        case `static`(StaticAction)
        case redirect(RedirectAction)
        case respond(RespondAction)
        case upload(UploadAction)
        case proxy(ProxyAction)
        case websocket(WebSocketAction)
        case sse(SSEAction)
    }

    /// Streams PUT (and POST to a collection) bodies into files under `root`.
    public struct UploadAction: Sendable, Equatable {
        public var root: String
        /// Remove the route's literal prefix from the path before mapping it under the root.
        public var stripPrefix: String?
        /// The largest body this route takes (instead of `limits.max_body_bytes`).
        public var maxBytes: Int?
        /// Replace an existing file (204) instead of answering 409.
        public var overwrite: Bool
        /// Create missing parent directories instead of answering 409.
        public var createDirectories: Bool

        public init(root: String, stripPrefix: String? = nil, maxBytes: Int? = nil, overwrite: Bool = false, createDirectories: Bool = false) {
            self.root = root
            self.stripPrefix = stripPrefix
            self.maxBytes = maxBytes
            self.overwrite = overwrite
            self.createDirectories = createDirectories
        }
    }

    public struct StaticAction: Sendable, Equatable {
        public enum Dotfiles: String, Sendable, CaseIterable {
            /// Answer 404 as if the file did not exist (default).
            case deny
            /// Serve them like any file.
            case allow
        }
        /// nil uses `defaults.root`.
        public var root: String?
        /// Remove the route's literal prefix from the path before looking up the file (nginx `alias`).
        public var stripPrefix: String?
        public var index: [String]
        /// Candidates tried in order: `$uri`, `$uri/` (directory index), a fixed path (`/index.html`),
        /// or a final `=404`. Empty means `$uri` then `$uri/`.
        public var tryFiles: [String]
        /// Precompressed siblings to look for, in preference order on equal q-values.
        public var precompressed: [String]
        public var dotfiles: Dotfiles
        /// Serve symlinks whose target lies outside the root.
        public var followSymlinksOutsideRoot: Bool
        public var cacheControl: String?
        /// Files up to this size are held in memory and sent with their head in one write.
        public var memoryCacheMaxFileSize: Int
        /// How long cached file metadata is trusted before it is checked again.
        public var metadataCacheValidity: Duration
        public var metadataCacheEntries: Int

        public init(
            root: String? = nil,
            stripPrefix: String? = nil,
            index: [String] = ["index.html"],
            tryFiles: [String] = [],
            precompressed: [String] = ["br", "gzip"],
            dotfiles: Dotfiles = .deny,
            followSymlinksOutsideRoot: Bool = false,
            cacheControl: String? = nil,
            memoryCacheMaxFileSize: Int = 64 * 1024,
            metadataCacheValidity: Duration = .seconds(2),
            metadataCacheEntries: Int = 4096
        ) {
            self.root = root
            self.stripPrefix = stripPrefix
            self.index = index
            self.tryFiles = tryFiles
            self.precompressed = precompressed
            self.dotfiles = dotfiles
            self.followSymlinksOutsideRoot = followSymlinksOutsideRoot
            self.cacheControl = cacheControl
            self.memoryCacheMaxFileSize = memoryCacheMaxFileSize
            self.metadataCacheValidity = metadataCacheValidity
            self.metadataCacheEntries = metadataCacheEntries
        }
    }

    public struct RedirectAction: Sendable, Equatable {
        /// The target; `$uri` is the request path, `$request_uri` path and query, `$host` the host,
        /// `$1`... regex captures, `:name` and `*` the route's parameters.
        public var to: String
        public var status: Int
        public init(to: String, status: Int = 302) {
            self.to = to
            self.status = status
        }
    }

    public struct RespondAction: Sendable, Equatable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: String

        public init(status: Int = 200, headers: [(String, String)] = [], body: String = "") {
            self.status = status
            self.headers = headers
            self.body = body
        }

        public static func == (lhs: RespondAction, rhs: RespondAction) -> Bool {
            lhs.status == rhs.status && lhs.body == rhs.body
                && lhs.headers.elementsEqual(rhs.headers, by: { $0 == $1 })
        }
    }
}
