public import MeridianConfig
public import NIOHTTP1

/// Decides how a gateway answers cross-origin requests, per the Fetch standard's CORS protocol
/// (§3.2).
///
/// A pure function of the request's method and headers: the middleware executes the
/// ``CORSDecision``. Everything that does not depend on the request (lowercased name sets,
/// joined header values, whole header blocks) is computed once here, because `evaluate` runs for
/// every request on an event loop: the common cases allocate at most the response header block
/// and never run a regex.
///
/// Choices where operators' tools differ, made strict on purpose:
/// - Only the origin decides an actual (non-preflight) request, as in Envoy and Kong; methods and
///   headers are what the browser asked about in the preflight.
/// - A preflight's method must be listed in `methods`, even a CORS-safelisted one, and is compared
///   case-sensitively (browsers send `patch` as written, Fetch §2.2.1 "normalize a method").
/// - The allowed origin is echoed byte for byte, since browsers compare it with their own
///   serialization byte for byte (Fetch §3.2.5 "CORS check").
/// - With explicit `allowHeaders`, a preflight is answered with the whole configured list (a
///   superset of what was asked, precomputed, and cacheable by the browser for later requests
///   asking for other listed headers); with `*`, with exactly the list that was asked for.
/// - A Private Network Access request that is not allowed still gets the ordinary preflight
///   answer, without `Access-Control-Allow-Private-Network`; the browser then refuses it.
/// - Under `origins: ["*"]` an allowed answer is the literal `*` without `Vary: Origin`, since it
///   is the same for every origin; only a refused `null` origin gets `Vary: Origin`. A shared
///   cache may then hand the `*` answer to a `null` page, which only exposes what `*` already
///   makes public.
public struct CORSPolicy: Sendable {
    /// The policy as the config file gives it (``MeridianConfig/Configuration/CORS``).
    public typealias Configuration = MeridianConfig.Configuration.CORS

    /// The configuration this policy was built from.
    public let configuration: Configuration

    private let allowsAnyOrigin: Bool
    private let allowsNull: Bool
    private let exactOrigins: Set<String>
    private let subdomainOrigins: [OriginPattern.Subdomains]
    private let methods: Set<String>
    private let methodList: String
    private let reflectsRequestHeaders: Bool
    /// Lowercased, so requested names compare case-insensitively (RFC 9110 §5.1).
    private let allowedHeaderNames: Set<String>
    private let allowedHeaderList: String
    /// The whole answer to an allowed actual request under `*`: it does not depend on the request.
    private let anyOriginActualHeaders: HTTPHeaders
    /// What follows `Access-Control-Allow-Origin` in an allowed actual answer.
    private let actualTail: HTTPHeaders
    /// What follows `Access-Control-Allow-Origin` in a preflight answer, up to `Access-Control-Allow-Headers`.
    private let preflightHead: HTTPHeaders
    private let maxAgeValue: String?

    static let varyOrigin: HTTPHeaders = ["Vary": "Origin"]
    static let preflightVary: HTTPHeaders = [
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    ]

    /// Builds a policy, refusing a configuration that ``validate(_:)`` finds problems in.
    public init(_ configuration: Configuration) throws(SecurityConfigurationError) {
        let problems = configuration.problems
        guard problems.isEmpty else { throw SecurityConfigurationError(component: "cors", problems: problems) }
        self.configuration = configuration

        var allowsAny = false
        var allowsNull = false
        var exact: Set<String> = []
        var subdomains: [OriginPattern.Subdomains] = []
        for origin in configuration.origins {
            guard let pattern = try? OriginPattern(origin) else { continue }
            switch pattern.kind {
            case .any: allowsAny = true
            case .null: allowsNull = true
            case .exact(let key): exact.insert(key)
            case .subdomains(let s): if !subdomains.contains(s) { subdomains.append(s) }
            }
        }
        self.allowsAnyOrigin = allowsAny
        self.allowsNull = allowsNull
        self.exactOrigins = exact
        self.subdomainOrigins = subdomains

        let methods = Self.unique(configuration.methods.map(Self.normalizedMethod), by: { $0 })
        self.methods = Set(methods)
        self.methodList = methods.joined(separator: ", ")
        self.reflectsRequestHeaders = configuration.allowHeaders.contains("*")
        let allowHeaders = Self.unique(configuration.allowHeaders) { $0.lowercased() }
        self.allowedHeaderNames = Set(allowHeaders.map { $0.lowercased() })
        self.allowedHeaderList = allowHeaders.joined(separator: ", ")
        self.maxAgeValue = configuration.maxAge.map(String.init)

        var tail = HTTPHeaders()
        if configuration.credentials {
            tail.add(name: "Access-Control-Allow-Credentials", value: "true")
        }
        let exposeHeaders = Self.unique(configuration.exposeHeaders) { $0.lowercased() }
        if !exposeHeaders.isEmpty {
            tail.add(name: "Access-Control-Expose-Headers", value: exposeHeaders.joined(separator: ", "))
        }
        var anyOrigin: HTTPHeaders = ["Access-Control-Allow-Origin": "*"]
        anyOrigin.add(contentsOf: tail)
        self.anyOriginActualHeaders = anyOrigin
        tail.add(contentsOf: Self.varyOrigin)
        self.actualTail = tail

        var head = HTTPHeaders()
        if configuration.credentials {
            head.add(name: "Access-Control-Allow-Credentials", value: "true")
        }
        head.add(name: "Access-Control-Allow-Methods", value: methodList)
        self.preflightHead = head
    }

    /// Classifies a request and computes the CORS headers for its answer.
    ///
    /// A preflight is an `OPTIONS` request carrying both `Origin` and
    /// `Access-Control-Request-Method` (Fetch §3.2.2); any other request with an `Origin` is an
    /// actual CORS request, including same-origin `POST`s that browsers also label, for which the
    /// added headers are harmless.
    public func evaluate(method: HTTPMethod, headers: HTTPHeaders) -> CORSDecision {
        let request = CORSRequestHeaders(headers)
        guard let origin = request.origin else { return .notCORS }
        let originAllowed = request.originCount == 1 && isAllowed(origin)
        guard method == .OPTIONS, let requestedMethod = request.requestMethod else {
            guard originAllowed else { return .actualDisallowed(Self.varyOrigin) }
            if allowsAnyOrigin { return .actual(anyOriginActualHeaders) }
            var answer = HTTPHeaders()
            answer.reserveCapacity(1 + actualTail.count)
            answer.add(name: "Access-Control-Allow-Origin", value: origin)
            answer.add(contentsOf: actualTail)
            return .actual(answer)
        }

        guard originAllowed else {
            let reason =
                request.originCount > 1
                ? "preflight carries \(request.originCount) Origin headers; a browser sends exactly one"
                : "origin \(HTTPSyntax.loggable(origin)) is not allowed by origins"
                    + (origin == "null" && allowsAnyOrigin ? " (\"*\" does not cover null; list \"null\")" : "")
            return .preflightRejected(Self.preflightVary, reason: reason)
        }
        guard HTTPSyntax.isToken(requestedMethod) else {
            return reject("malformed Access-Control-Request-Method \(HTTPSyntax.loggable(requestedMethod))")
        }
        guard methods.contains(requestedMethod) else {
            return reject("method \(HTTPSyntax.loggable(requestedMethod)) is not allowed; allowed: \(methodList)")
        }

        var reflected = ""
        if request.requestHeadersCount == 1, let value = request.requestHeaders {
            if let reason = checkRequestedHeaders(value, reflectingInto: &reflected) { return reject(reason) }
        } else if request.requestHeadersCount > 1 {
            for (name, value) in headers where CORSRequestHeaders.isRequestHeadersName(name) {
                if let reason = checkRequestedHeaders(value, reflectingInto: &reflected) { return reject(reason) }
            }
        }

        var answer = HTTPHeaders()
        answer.reserveCapacity(preflightHead.count + 5)
        answer.add(name: "Access-Control-Allow-Origin", value: allowsAnyOrigin ? "*" : origin)
        answer.add(contentsOf: preflightHead)
        let allowHeaders = reflectsRequestHeaders ? reflected : allowedHeaderList
        if !allowHeaders.isEmpty {
            answer.add(name: "Access-Control-Allow-Headers", value: allowHeaders)
        }
        if let maxAgeValue {
            answer.add(name: "Access-Control-Max-Age", value: maxAgeValue)
        }
        if request.requestsPrivateNetwork && configuration.allowPrivateNetwork {
            answer.add(name: "Access-Control-Allow-Private-Network", value: "true")
        }
        answer.add(contentsOf: Self.preflightVary)
        return .preflight(answer)
    }

    private func reject(_ reason: String) -> CORSDecision {
        .preflightRejected(Self.preflightVary, reason: reason)
    }

    private func isAllowed(_ origin: String) -> Bool {
        if origin == "null" { return allowsNull }
        guard case .success(let parsed) = SerializedOrigin.parse(origin[...]) else { return false }
        if allowsAnyOrigin { return true }
        if !exactOrigins.isEmpty && exactOrigins.contains(parsed.key(original: origin)) { return true }
        for pattern in subdomainOrigins where pattern.matches(parsed) {
            return true
        }
        return false
    }

    /// Checks one `Access-Control-Request-Headers` line; returns why it is refused, or `nil`.
    ///
    /// With `*` configured, the names are collected to be answered back: each is a validated
    /// token, so reflecting them cannot inject anything into the response.
    private func checkRequestedHeaders(_ value: String, reflectingInto reflected: inout String) -> String? {
        for name in CommaSeparatedList(value) {
            guard HTTPSyntax.isToken(name) else {
                return "malformed Access-Control-Request-Headers \(HTTPSyntax.loggable(value))"
            }
            if reflectsRequestHeaders {
                if !reflected.isEmpty { reflected += ", " }
                reflected += name
                continue
            }
            let lookup = name.utf8.contains(where: HTTPSyntax.isUppercase) ? name.lowercased() : String(name)
            guard allowedHeaderNames.contains(lookup) else {
                let allowed = allowedHeaderList.isEmpty ? "none configured" : "allowed: \(allowedHeaderList)"
                return "request header \(HTTPSyntax.loggable(name)) is not allowed; \(allowed)"
            }
        }
        return nil
    }

    /// Fetch §2.2.1 "normalize a method": the six methods every browser uppercases.
    static func normalizedMethod(_ method: String) -> String {
        for known in ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]
        where HTTPSyntax.equalsIgnoringCase(method, known) {
            return known
        }
        return method
    }

    private static func unique(_ values: [String], by key: (String) -> String) -> [String] {
        var seen: Set<String> = []
        return values.filter { seen.insert(key($0)).inserted }
    }
}
