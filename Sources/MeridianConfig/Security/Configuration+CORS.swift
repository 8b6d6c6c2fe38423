extension Configuration {
    /// What a route allows across origins, as an operator writes it in the config file.
    ///
    /// The fields mirror Envoy's `CorsPolicy`, Kong's `cors` plugin and the usual nginx
    /// `add_header` recipes, so existing configurations translate one to one.
    public struct CORS: Sendable, Hashable {
        /// The methods allowed when none are configured: the CORS-safelisted methods (Fetch §2.2.1).
        public static let defaultMethods = ["GET", "HEAD", "POST"]

        /// How long browsers may cache a preflight answer when nothing is configured: 10 minutes.
        ///
        /// Long enough that a page does not preflight every few calls (without the header browsers
        /// keep the answer only 5 seconds), short enough that tightening a policy takes effect
        /// soon. Chromium caps the value at 2 hours and Firefox at 24 hours anyway.
        public static let defaultMaxAge = 600

        /// Allowed origins: exact (`https://app.example.com`, `http://localhost:3000`), wildcard
        /// subdomains (`https://*.example.com`), `null` (only when listed), or `*` for any origin.
        public var origins: [String]
        /// Methods a preflight may ask for, compared case-sensitively (RFC 9110 §9.1) after the
        /// Fetch normalisation of `delete`, `get`, `head`, `options`, `post` and `put` to
        /// uppercase. `GET`, `HEAD` and `POST` are not implicitly allowed: list what you mean.
        public var methods: [String]
        /// Request headers a preflight may ask for, case-insensitive. Empty allows none beyond the
        /// CORS-safelisted ones, which browsers never ask about; `*` allows any and answers
        /// with the list that was asked for, which also works with credentials (where browsers
        /// take a literal `*` as a header name, Fetch §3.2.3) and covers `Authorization`.
        public var allowHeaders: [String]
        /// Response headers, beyond the CORS-safelisted ones, that pages may read.
        public var exposeHeaders: [String]
        /// Whether pages may send cookies and HTTP authentication and read the answer.
        public var credentials: Bool
        /// Seconds browsers may cache a preflight answer; `nil` sends no `Access-Control-Max-Age`.
        public var maxAge: Int?
        /// Whether to answer Private Network Access preflights (WICG Private Network Access §3),
        /// which Chrome sends before a public page calls a private-network address.
        public var allowPrivateNetwork: Bool

        public init(
            origins: [String],
            methods: [String] = CORS.defaultMethods,
            allowHeaders: [String] = [],
            exposeHeaders: [String] = [],
            credentials: Bool = false,
            maxAge: Int? = CORS.defaultMaxAge,
            allowPrivateNetwork: Bool = false
        ) {
            self.origins = origins
            self.methods = methods
            self.allowHeaders = allowHeaders
            self.exposeHeaders = exposeHeaders
            self.credentials = credentials
            self.maxAge = maxAge
            self.allowPrivateNetwork = allowPrivateNetwork
        }
    }
}

extension Configuration.CORS {
    /// Every problem in this policy (``validate(_:)``); empty when it is usable.
    public var problems: [String] { Self.validate(self) }

    /// Every problem in a configuration, each saying what is wrong and what to write instead.
    ///
    /// An empty list means ``init(_:)`` will accept it.
    public static func validate(_ configuration: Configuration.CORS) -> [String] {
        var problems: [String] = []
        if configuration.origins.isEmpty {
            problems.append(
                "origins is empty, so no cross-origin request would be allowed; list the origins that may call "
                    + "this route, e.g. origins: [\"https://app.example.com\"], or [\"*\"] for any origin"
            )
        }
        var allowsAny = false
        for (index, origin) in configuration.origins.enumerated() {
            do {
                allowsAny = try OriginPattern(origin).isAny || allowsAny
            } catch {
                problems.append("origins[\(index)]: \(error.message)")
            }
        }
        if allowsAny && configuration.credentials {
            problems.append(
                "origins contains \"*\" while credentials is true; the Fetch standard (§3.2.5, CORS check) makes "
                    + "browsers refuse `Access-Control-Allow-Origin: *` on credentialed requests, and reflecting "
                    + "every origin instead would let any site act with your users' cookies — list the origins "
                    + "that may send credentials, e.g. [\"https://app.example.com\", \"https://*.example.com\"]"
            )
        }
        if configuration.methods.isEmpty {
            problems.append(
                "methods is empty, so every preflight would be refused; list the methods, "
                    + "e.g. methods: [\"GET\", \"POST\"]"
            )
        }
        for (index, method) in configuration.methods.enumerated() {
            if method == "*" {
                problems.append(
                    "methods[\(index)]: \"*\" is not supported (browsers read it literally on credentialed "
                        + "requests, Fetch §3.2.3); list the methods, e.g. [\"GET\", \"POST\", \"PUT\", \"DELETE\"]"
                )
            } else if !HTTPSyntax.isToken(method) {
                problems.append(
                    "methods[\(index)]: \(method.debugDescription) is not an HTTP method (RFC 9110 §9.1: one "
                        + "token of letters, digits and !#$%&'*+-.^_`|~); write one method per entry, e.g. \"PUT\""
                )
            }
        }
        headerNameProblems(configuration.allowHeaders, field: "allowHeaders", into: &problems)
        headerNameProblems(configuration.exposeHeaders, field: "exposeHeaders", into: &problems)
        if configuration.credentials && configuration.exposeHeaders.contains("*") {
            problems.append(
                "exposeHeaders contains \"*\" while credentials is true; on credentialed requests browsers read "
                    + "it as a header literally named \"*\" (Fetch §3.2.3) — list the headers pages may read, "
                    + "e.g. [\"X-Request-ID\", \"ETag\"]"
            )
        }
        if let maxAge = configuration.maxAge, maxAge < 0 {
            problems.append(
                "maxAge is \(maxAge); it is a number of seconds, 0 or more (e.g. 600), or leave it out to send "
                    + "no Access-Control-Max-Age"
            )
        }
        return problems
    }

    private static func headerNameProblems(
        _ names: [String],
        field: String,
        into problems: inout [String]
    ) {
        for (index, name) in names.enumerated() where name != "*" && !HTTPSyntax.isToken(name) {
            if name.contains(",") {
                let parts = name.split(separator: ",").map { String(HTTPSyntax.trimmed($0)).debugDescription }
                problems.append(
                    "\(field)[\(index)]: \(name.debugDescription) holds several names; write one per entry: "
                        + "[\(parts.joined(separator: ", "))]"
                )
            } else {
                problems.append(
                    "\(field)[\(index)]: \(name.debugDescription) is not a header name (RFC 9110 §5.1: one token "
                        + "of letters, digits and !#$%&'*+-.^_`|~); write e.g. \"X-Request-ID\""
                )
            }
        }
    }
}
