extension Configuration {
    /// The `redis:` section: where instances keep what they share (breaker outcomes, global rate limits). Without
    /// it every feature is local to the instance.
    public struct Redis: Sendable, Equatable {
        /// One server, or seed nodes of a Redis Cluster (`cluster: [...]`).
        public var nodes: [Address]
        public var cluster: Bool
        public var username: String?
        public var password: String?
        public var database: Int
        /// TLS to Redis (`rediss://`, or `tls:`).
        public var tls: Upstream.UpstreamTLS?
        public var connectTimeout: Duration
        /// The deadline of background calls (breaker batches, leases, heartbeats).
        public var commandTimeout: Duration
        /// How long a request may wait on Redis (an exact global limit) before it gets the local answer.
        public var requestBudget: Duration
        /// Connections to each node from each event loop.
        public var connectionsPerLoop: Int
        /// Prefix of every key and channel, so several Meridian fleets can share one Redis.
        public var keyPrefix: String

        public init(
            nodes: [Address], cluster: Bool = false, username: String? = nil, password: String? = nil, database: Int = 0,
            tls: Upstream.UpstreamTLS? = nil, connectTimeout: Duration = .seconds(1), commandTimeout: Duration = .milliseconds(500),
            requestBudget: Duration = .milliseconds(5), connectionsPerLoop: Int = 1, keyPrefix: String = "meridian"
        ) {
            self.nodes = nodes
            self.cluster = cluster
            self.username = username
            self.password = password
            self.database = database
            self.tls = tls
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
            self.requestBudget = requestBudget
            self.connectionsPerLoop = connectionsPerLoop
            self.keyPrefix = keyPrefix
        }

        /// A `redis://[user[:password]@]host[:port][/db]` or `rediss://` URL (TLS), as `MERIDIAN_REDIS_URL` and
        /// `redis.url` take it; nil, with the reason, when it is not one.
        public static func parse(url text: String) -> Result<Redis, URLError> {
            let tls: Bool
            var rest: Substring
            if text.hasPrefix("redis://") {
                tls = false
                rest = text.dropFirst("redis://".count)
            } else if text.hasPrefix("rediss://") {
                tls = true
                rest = text.dropFirst("rediss://".count)
            } else {
                return .failure(URLError(message: "'\(Self.redacted(text))' is not a Redis URL; expected redis://HOST:PORT or rediss://HOST:PORT"))
            }
            var username: String?
            var password: String?
            if let at = rest.lastIndex(of: "@") {
                let credentials = rest[..<at]
                rest = rest[rest.index(after: at)...]
                if let colon = credentials.firstIndex(of: ":") {
                    let user = credentials[..<colon]
                    username = user.isEmpty ? nil : Self.percentDecoded(user)
                    password = Self.percentDecoded(credentials[credentials.index(after: colon)...])
                } else if !credentials.isEmpty {
                    password = Self.percentDecoded(credentials)
                }
            }
            var database = 0
            if let slash = rest.firstIndex(of: "/") {
                let db = rest[rest.index(after: slash)...]
                rest = rest[..<slash]
                if !db.isEmpty {
                    guard let n = Int(db), n >= 0, n < 10_000 else {
                        return .failure(URLError(message: "'\(db)' is not a database number; expected /0 to /15 or so"))
                    }
                    database = n
                }
            }
            var host = String(rest)
            var port = 6379
            if host.hasPrefix("[") {
                guard let close = host.firstIndex(of: "]") else { return .failure(URLError(message: "unclosed [ in '\(rest)'")) }
                let after = host[host.index(after: close)...]
                let inner = String(host[host.index(after: host.startIndex)..<close])
                if after.hasPrefix(":") {
                    guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { return .failure(URLError(message: "bad port in '\(rest)'")) }
                    port = p
                }
                host = inner
            } else if let colon = host.lastIndex(of: ":") {
                guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else {
                    return .failure(URLError(message: "'\(host[host.index(after: colon)...])' is not a port; expected 1 to 65535"))
                }
                port = p
                host = String(host[..<colon])
            }
            guard !host.isEmpty else { return .failure(URLError(message: "'\(Self.redacted(text))' has no host")) }
            return .success(
                Redis(
                    nodes: [Address(host: host, port: port)], username: username, password: password, database: database,
                    tls: tls ? Upstream.UpstreamTLS() : nil
                )
            )
        }

        public struct URLError: Error, Equatable, CustomStringConvertible {
            public var message: String
            public var description: String { message }
        }

        /// The URL with its password replaced, for logs and errors.
        public static func redacted(_ url: String) -> String {
            guard let scheme = url.range(of: "://"), let at = url.lastIndex(of: "@"), at > scheme.upperBound else { return url }
            let credentials = url[scheme.upperBound..<at]
            guard let colon = credentials.firstIndex(of: ":") else { return url[..<scheme.upperBound] + "***" + url[at...] }
            return url[..<colon] + ":***" + url[at...]
        }

        static func percentDecoded(_ s: Substring) -> String {
            var bytes: [UInt8] = []
            var utf8 = Array(s.utf8)[...]
            while let b = utf8.popFirst() {
                if b == UInt8(ascii: "%"), utf8.count >= 2, let v = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                    bytes.append(v)
                    utf8 = utf8.dropFirst(2)
                } else {
                    bytes.append(b)
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// `rate_limit:` on a route: a token bucket per key.
    public struct RateLimit: Sendable, Equatable {
        public enum Key: Sendable, Equatable {
            /// The client's address (after `server.trusted_proxies`).
            case clientIP
            case header(String)
            case cookie(String)
            /// A `:name` parameter of the route's path pattern.
            case parameter(String)
            /// One bucket for the whole route.
            case route
        }

        public enum Scope: String, Sendable, Equatable, CaseIterable {
            /// Counted by each instance alone.
            case local
            /// Counted across the cluster in Redis (local at the per-instance share while Redis is down).
            case global
        }

        public enum Mode: String, Sendable, Equatable, CaseIterable {
            /// One Redis script call per request (GCRA): precise, a round trip on the request's path.
            case exact
            /// Tokens leased from Redis in batches and spent locally: no round trip per request, bounded overshoot.
            case batched
        }

        /// The policy's name in the `RateLimit-Policy` header and the metrics (the route's name by default).
        public var name: String
        /// Requests allowed per `per`.
        public var rate: Int
        public var per: Duration
        /// Requests allowed at once after a quiet spell (the bucket's size); `rate` by default.
        public var burst: Int
        public var key: Key
        public var scope: Scope
        public var mode: Mode
        /// Tokens one lease takes from Redis in `batched` mode.
        public var batch: Int

        public init(
            name: String, rate: Int, per: Duration = .seconds(1), burst: Int? = nil, key: Key = .clientIP, scope: Scope = .local,
            mode: Mode = .batched, batch: Int? = nil
        ) {
            self.name = name
            self.rate = rate
            self.per = per
            self.burst = burst ?? rate
            self.key = key
            self.scope = scope
            self.mode = mode
            self.batch = batch ?? Swift.max(1, Swift.min(100, rate / 50))
        }
    }
}
