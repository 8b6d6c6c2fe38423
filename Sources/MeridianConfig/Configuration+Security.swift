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

    /// The security middleware of one route: address rules, CORS, response headers, and the authenticator by name.
    public struct RouteSecurity: Sendable, Equatable {
        public var access: AccessRules?
        public var cors: CORS?
        public var headers: SecurityHeaders?
        /// The name of an entry of the top-level `auth:`.
        public var auth: String?

        public init(access: AccessRules? = nil, cors: CORS? = nil, headers: SecurityHeaders? = nil, auth: String? = nil) {
            self.access = access
            self.cors = cors
            self.headers = headers
            self.auth = auth
        }

        public var isEmpty: Bool { access == nil && cors == nil && headers == nil && auth == nil }
    }
}
