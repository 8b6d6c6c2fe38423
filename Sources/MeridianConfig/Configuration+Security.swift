extension Configuration {
    /// Who may reach a listener or a route by client address (nginx `allow`/`deny`): CIDRs, IPv4 and IPv6.
    ///
    /// The address is the client's after `server.trusted_proxies` (the nearest `X-Forwarded-For` hop that is not
    /// a trusted proxy). A `deny` match refuses; otherwise, with `allow` given, the address must match one of it.
    public struct AccessRules: Sendable, Equatable {
        public var allow: [IPNetwork]
        public var deny: [IPNetwork]

        public init(allow: [IPNetwork] = [], deny: [IPNetwork] = []) {
            self.allow = allow
            self.deny = deny
        }

        public var isEmpty: Bool { allow.isEmpty && deny.isEmpty }
    }

    /// The web application firewall on a route: ModSecurity with the OWASP Core Rule Set.
    public struct WAF: Sendable, Hashable {
        public enum Mode: String, Sendable, CaseIterable, Hashable {
            /// Matches are logged and counted; nothing is refused.
            case detection
            /// A request whose anomaly score reaches the threshold is refused 403.
            case blocking
        }
        public var mode: Mode
        /// CRS paranoia level 1...4: higher catches more and refuses more legitimate traffic.
        public var paranoiaLevel: Int
        /// The inbound anomaly score that blocks (CRS: a critical match scores 5).
        public var anomalyThreshold: Int
        /// How much of a request body is inspected; the rest passes uninspected.
        public var maxBodyBytes: Int
        /// The CRS's `tx.allowed_methods` (rule 911100 refuses others); nil keeps its GET HEAD POST OPTIONS.
        public var allowedMethods: [String]?
        /// The CRS's `tx.allowed_request_content_type` (rule 920420 refuses others); nil keeps its list.
        public var allowedContentTypes: [String]?
        /// CRS rules removed (`SecRuleRemoveById`): the usual answer to a false positive.
        public var excludedRules: [Int] = []
        /// Inspections of this route waiting or running at once; past it, blocking mode answers 503 (fail
        /// closed) and detection mode lets the request through uninspected (fail open).
        public var maxQueue = 256

        public init(mode: Mode = .blocking, paranoiaLevel: Int = 1, anomalyThreshold: Int = 5, maxBodyBytes: Int = 128 * 1024) {
            self.mode = mode
            self.paranoiaLevel = paranoiaLevel
            self.anomalyThreshold = anomalyThreshold
            self.maxBodyBytes = maxBodyBytes
        }
    }

    /// The security middleware of one route: address rules, CORS, response headers, the authenticator by name, the WAF.
    public struct RouteSecurity: Sendable, Equatable {
        public var access: AccessRules?
        public var cors: CORS?
        public var headers: SecurityHeaders?
        /// The name of an entry of the top-level `auth:`.
        public var auth: String?
        public var waf: WAF?

        public init(access: AccessRules? = nil, cors: CORS? = nil, headers: SecurityHeaders? = nil, auth: String? = nil, waf: WAF? = nil) {
            self.access = access
            self.cors = cors
            self.headers = headers
            self.auth = auth
            self.waf = waf
        }

        public var isEmpty: Bool { access == nil && cors == nil && headers == nil && auth == nil && waf == nil }
    }
}
