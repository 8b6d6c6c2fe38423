extension Configuration {
    /// One named way to authenticate requests (the top-level `auth:`), chosen by routes with `auth: NAME`.
    public struct Authenticator: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            case apiKey(APIKey)
            case basic(Basic)
            case jwt(JWT)
            case session(Session)
            case forward(Forward)
        }
        public var name: String
        public var kind: Kind

        public init(name: String, kind: Kind) {
            self.name = name
            self.kind = kind
        }

        /// The config key of each kind.
        public static let kinds = ["api_key", "basic", "jwt", "session", "forward"]
    }

    /// API keys in a header or query parameter, stored as SHA-256 digests, each with a name for logs and upstreams.
    public struct APIKey: Sendable, Equatable {
        public struct Key: Sendable, Equatable {
            public var name: String
            /// 64 hex digits: `printf %s "$KEY" | sha256sum`.
            public var sha256: String
            public init(name: String, sha256: String) {
                self.name = name
                self.sha256 = sha256
            }
        }
        /// The request header that carries the key (nil: none).
        public var header: String?
        /// The query parameter that carries the key (nil: none).
        public var query: String?
        public var keys: [Key]
        /// The upstream request header that gets the key's name (nil: none).
        public var nameHeader: String?

        public init(header: String? = "x-api-key", query: String? = nil, keys: [Key] = [], nameHeader: String? = "x-consumer") {
            self.header = header
            self.query = query
            self.keys = keys
            self.nameHeader = nameHeader
        }
    }

    /// HTTP Basic authentication (RFC 7617) against bcrypt or argon2 hashes.
    public struct Basic: Sendable, Equatable {
        public struct User: Sendable, Equatable {
            public var name: String
            /// `$2b$…` (bcrypt) or `$argon2id$…`: `meridian hash-password` prints one.
            public var hash: String
            public init(name: String, hash: String) {
                self.name = name
                self.hash = hash
            }
        }
        public var realm: String
        public var users: [User]
        /// The upstream request header that gets the user name (nil: none).
        public var userHeader: String?
        /// How long a checked user and password is remembered (each check costs tens of milliseconds).
        public var cacheTTL: Duration

        public init(realm: String = "restricted", users: [User] = [], userHeader: String? = "x-user", cacheTTL: Duration = .seconds(300)) {
            self.realm = realm
            self.users = users
            self.userHeader = userHeader
            self.cacheTTL = cacheTTL
        }
    }

    /// Bearer JSON Web Tokens (RFC 7519, RFC 6750): keys from files or a JWKS URL, and the claims checked.
    public struct JWT: Sendable, Equatable {
        public struct Key: Sendable, Equatable {
            public enum Material: Sendable, Equatable {
                /// A PEM public key or certificate (RSA, EC, Ed25519).
                case file(String)
                /// An HMAC secret read from this environment variable.
                case secretEnvironment(String)
                /// An HMAC secret read from this file (trailing newline dropped).
                case secretFile(String)
            }
            public var kid: String?
            /// `HS256`, `RS256`, `ES256`, `EdDSA`, …: the only algorithm this key accepts.
            public var algorithm: String
            public var material: Material

            public init(kid: String? = nil, algorithm: String, material: Material) {
                self.kid = kid
                self.algorithm = algorithm
                self.material = material
            }
        }
        public var keys: [Key]
        /// A JWKS document's URL, fetched at start and every `jwksRefresh` (and on an unknown `kid`, at most once per `jwksMinRefresh`).
        public var jwksURL: String?
        public var jwksRefresh: Duration
        public var jwksMinRefresh: Duration
        public var issuers: [String]
        public var audiences: [String]
        public var leeway: Duration
        public var requireExpiration: Bool
        public var requiredClaims: [String]
        /// Claim name → upstream request header.
        public var forwardClaims: [(claim: String, header: String)]
        public var realm: String

        public init(
            keys: [Key] = [], jwksURL: String? = nil, jwksRefresh: Duration = .seconds(600), jwksMinRefresh: Duration = .seconds(30),
            issuers: [String] = [], audiences: [String] = [], leeway: Duration = .seconds(60), requireExpiration: Bool = true,
            requiredClaims: [String] = [], forwardClaims: [(claim: String, header: String)] = [], realm: String = "api"
        ) {
            self.keys = keys
            self.jwksURL = jwksURL
            self.jwksRefresh = jwksRefresh
            self.jwksMinRefresh = jwksMinRefresh
            self.issuers = issuers
            self.audiences = audiences
            self.leeway = leeway
            self.requireExpiration = requireExpiration
            self.requiredClaims = requiredClaims
            self.forwardClaims = forwardClaims
            self.realm = realm
        }

        public static func == (a: JWT, b: JWT) -> Bool {
            a.keys == b.keys && a.jwksURL == b.jwksURL && a.jwksRefresh == b.jwksRefresh && a.jwksMinRefresh == b.jwksMinRefresh
                && a.issuers == b.issuers && a.audiences == b.audiences && a.leeway == b.leeway && a.requireExpiration == b.requireExpiration
                && a.requiredClaims == b.requiredClaims && a.realm == b.realm
                && a.forwardClaims.elementsEqual(b.forwardClaims, by: { $0.claim == $1.claim && $0.header == $1.header })
        }

        /// The algorithms a key may name.
        public static let algorithms = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
    }

    /// A session gate: a signed and encrypted cookie (AES-256-GCM) that the application's login sets; requests
    /// without a valid one are sent to the login page (HTML) or refused 401 (APIs).
    public struct Session: Sendable, Equatable {
        public enum KeySource: Sendable, Equatable {
            /// A 32-byte key, base64 or 64 hex digits, from this environment variable.
            case environment(String)
            /// The same, from this file.
            case file(String)
        }
        public var cookie: String
        public var key: KeySource
        /// The key cookies sealed before the last rotation still open with (nil: none).
        public var previousKey: KeySource?
        /// Where HTML requests without a session are redirected, with the original target in `next`; nil answers 401.
        public var loginURL: String?
        public var nextParameter: String
        /// The upstream request header that gets the session's user (nil: none).
        public var userHeader: String?
        public var realm: String

        public init(
            cookie: String = "meridian_session", key: KeySource, previousKey: KeySource? = nil, loginURL: String? = nil,
            nextParameter: String = "next", userHeader: String? = "x-user", realm: String = "app"
        ) {
            self.cookie = cookie
            self.key = key
            self.previousKey = previousKey
            self.loginURL = loginURL
            self.nextParameter = nextParameter
            self.userHeader = userHeader
            self.realm = realm
        }
    }

    /// `brute_force:`: failed authentications counted per client address and per user (across the cluster with
    /// Redis); past `max_failures` within `window` the address or user is refused 403 for `ban`, doubling per
    /// repeat up to `max_ban`.
    public struct BruteForce: Sendable, Equatable {
        public var maxFailures: Int
        public var window: Duration
        public var ban: Duration
        public var maxBan: Duration
        public var byAddress: Bool
        public var byUser: Bool

        public init(
            maxFailures: Int = 10, window: Duration = .seconds(600), ban: Duration = .seconds(900), maxBan: Duration = .seconds(86400),
            byAddress: Bool = true, byUser: Bool = true
        ) {
            self.maxFailures = maxFailures
            self.window = window
            self.ban = ban
            self.maxBan = maxBan
            self.byAddress = byAddress
            self.byUser = byUser
        }
    }

    /// Forward auth (nginx `auth_request`, Traefik `forwardAuth`): a sub-request to an auth service decides.
    public struct Forward: Sendable, Equatable {
        /// The auth service, `http://` or `https://`.
        public var url: String
        /// Client request headers the sub-request carries (besides `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri`, `-For`).
        public var requestHeaders: [String]
        /// Headers of a 2xx answer copied onto the request the route's action gets.
        public var responseHeaders: [String]
        public var timeout: Duration
        /// How long an answer is remembered per credential (the copied request headers); zero: never.
        public var cacheTTL: Duration

        public init(
            url: String, requestHeaders: [String] = ["authorization", "cookie"], responseHeaders: [String] = [], timeout: Duration = .seconds(2),
            cacheTTL: Duration = .seconds(10)
        ) {
            self.url = url
            self.requestHeaders = requestHeaders
            self.responseHeaders = responseHeaders
            self.timeout = timeout
            self.cacheTTL = cacheTTL
        }
    }
}
