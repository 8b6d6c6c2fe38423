public import NIOHTTP1

/// Picks the virtual host and the route of a request; pure and without I/O, so the precedence
/// rules are tested without sockets.
public struct Router: Sendable {
    /// A header a request must carry (with this value, when one is given) for a route to match.
    public struct HeaderCondition: Sendable, Equatable {
        public var name: String
        public var value: String?

        public init(name: String, value: String? = nil) {
            self.name = name
            self.value = value
        }
    }

    /// A class: routing hands the matched route back with every request, and a reference is one retain where this
    /// struct's copy was one per field (its pattern's strings, condition arrays, responder).
    public final class Route: Sendable {
        public let pattern: RoutePattern
        public let methods: [HTTPMethod]
        public let headers: [HeaderCondition]
        public let query: [QueryCondition]
        public let responder: any Responder
        public let name: String?
        /// The route's own request body limit (an upload route's `max_bytes`), instead of
        /// `limits.max_body_bytes`.
        public let maxBodyBytes: Int?
        /// Position in the configuration, the last tie-breaker.
        let order: Int

        public init(
            pattern: RoutePattern, methods: [HTTPMethod] = [], headers: [HeaderCondition] = [], query: [QueryCondition] = [],
            responder: any Responder, name: String? = nil, order: Int = 0, maxBodyBytes: Int? = nil
        ) {
            self.query = query
            self.maxBodyBytes = maxBodyBytes
            self.pattern = pattern
            self.methods = methods
            self.headers = headers
            self.responder = responder
            self.name = name
            self.order = order
        }

        /// The same route at another position.
        func at(_ order: Int) -> Route {
            Route(
                pattern: pattern, methods: methods, headers: headers, query: query, responder: responder, name: name, order: order,
                maxBodyBytes: maxBodyBytes
            )
        }

        var conditionCount: Int { (methods.isEmpty ? 0 : 1) + headers.count + query.count }
    }

    public struct VirtualHost: Sendable {
        public var names: [String]
        public var isDefault: Bool
        /// Sorted by precedence.
        public private(set) var routes: [Route]
        private var exact: [Substring: [Int]]

        public init(names: [String], isDefault: Bool, routes: [Route]) {
            self.names = names
            self.isDefault = isDefault
            self.routes = Self.sorted(routes)
            var exact: [Substring: [Int]] = [:]
            for (i, r) in self.routes.enumerated() {
                if case .exact(let p) = r.pattern { exact[Substring(p), default: []].append(i) }
            }
            self.exact = exact
        }

        static func sorted(_ routes: [Route]) -> [Route] {
            routes.enumerated().map { i, r in r.at(i) }.sorted { a, b in
                if let first = RoutePattern.precedes(a.pattern, b.pattern) { return first }
                if a.conditionCount != b.conditionCount { return a.conditionCount > b.conditionCount }
                return a.order < b.order
            }
        }

        /// The first route whose path, method, headers and query all match.
        public func match(path: Substring, method: HTTPMethod, headers: HTTPHeaders, query: Substring? = nil) -> RouteMatch {
            match(path: path, method: method, fields: RequestFields(headers), query: query)
        }

        /// The first route whose path, method, header fields and query all match.
        public func match(path: Substring, method: HTTPMethod, fields headers: RequestFields, query: Substring? = nil) -> RouteMatch {
            var allowed: [HTTPMethod] = []
            func consider(_ route: Route) -> RouteMatch? {
                guard let m = route.pattern.match(path) else { return nil }
                guard Self.headersMatch(route.headers, headers) else { return nil }
                guard route.query.allSatisfy({ $0.matches(query) }) else { return nil }
                if !route.methods.isEmpty && !route.methods.contains(method)
                    && !(method == .HEAD && route.methods.contains(.GET))
                {
                    allowed.append(contentsOf: route.methods)
                    return nil
                }
                return .found(route, parameters: m.parameters, captures: m.captures)
            }
            if let indices = exact[path] {
                for i in indices { if let m = consider(routes[i]) { return m } }
            }
            for route in routes {
                if case .exact = route.pattern { continue }
                if let m = consider(route) { return m }
            }
            return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
        }

        static func headersMatch(_ conditions: [HeaderCondition], _ headers: RequestFields) -> Bool {
            for c in conditions {
                let values = headers[c.name]
                if values.isEmpty { return false }
                if let expected = c.value, !values.contains(expected) { return false }
            }
            return true
        }
    }

    public enum RouteMatch: Sendable {
        case found(Route, parameters: [(name: String, value: Substring)], captures: [Substring])
        case notFound
        case methodNotAllowed(allowed: [HTTPMethod])
    }

    private var exactHosts: [String: Int]
    private var wildcardHosts: [String: Int]
    private var defaultHost: Int
    public private(set) var hosts: [VirtualHost]

    /// Hosts in configuration order; the one marked default (or else the first) answers unknown names.
    public init(hosts: [VirtualHost]) {
        self.hosts = hosts
        var exact: [String: Int] = [:]
        var wildcard: [String: Int] = [:]
        for (i, h) in hosts.enumerated() {
            for name in h.names {
                if name.hasPrefix("*.") {
                    wildcard[String(name.dropFirst(2))] = wildcard[String(name.dropFirst(2))] ?? i
                } else {
                    exact[name] = exact[name] ?? i
                }
            }
        }
        self.exactHosts = exact
        self.wildcardHosts = wildcard
        self.defaultHost = hosts.firstIndex(where: \.isDefault) ?? 0
    }

    /// Exact name, then the longest matching `*.suffix` (any depth of labels), then the default.
    public func host(for name: String) -> VirtualHost { hosts[hostIndex(for: name)] }

    /// The route for a request to host `name` (see ``host(for:)`` and ``VirtualHost/match(path:method:headers:query:)``),
    /// found without copying the host.
    public func match(host name: String, path: Substring, method: HTTPMethod, headers: HTTPHeaders, query: Substring?) -> RouteMatch {
        match(host: name, path: path, method: method, fields: RequestFields(headers), query: query)
    }

    /// As ``match(host:path:method:headers:query:)``, over a request's fields as received.
    public func match(host name: String, path: Substring, method: HTTPMethod, fields: RequestFields, query: Substring?) -> RouteMatch {
        hosts[hostIndex(for: name)].match(path: path, method: method, fields: fields, query: query)
    }

    private func hostIndex(for name: String) -> Int {
        if let i = exactHosts[name] { return i }
        if !wildcardHosts.isEmpty {
            var rest = Substring(name)
            while let dot = rest.firstIndex(of: ".") {
                rest = rest[rest.index(after: dot)...]
                if let i = wildcardHosts[String(rest)] { return i }
            }
        }
        return defaultHost
    }
}
