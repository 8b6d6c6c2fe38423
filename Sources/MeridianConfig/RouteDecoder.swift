internal import Foundation
internal import Yams

/// Decodes one route: its match conditions, its single action and its extra response headers.
struct RouteDecoder {
    let reader: ConfigReader
    /// The clusters `proxy` may name.
    var upstreamNames: Set<String> = []
    /// The authenticators `auth` may name.
    var authNames: Set<String> = []

    static let actions = ["static", "redirect", "respond", "upload", "proxy", "websocket", "sse"]

    func route(_ node: Node, _ path: String) -> Configuration.Route? {
        guard let m = reader.mapping(node, path, allowed: ["name", "match", "headers", "rate_limit", "compression", "cache", "access", "cors", "security_headers", "auth", "waf"] + Self.actions) else {
            return nil
        }
        var name: String?
        if let n = m["name"] { name = reader.string(n, "\(path).name") }
        guard let matchNode = m["match"] else {
            reader.error(node, "\(path).match", "missing; give path, prefix or regex, like match: {prefix: /}")
            return nil
        }
        let match = self.match(matchNode, "\(path).match")
        let given = Self.actions.filter { m[$0] != nil }
        guard given.count == 1, let actionKey = given.first, let actionNode = m[actionKey] else {
            let problem = given.isEmpty ? "has no action" : "has several actions (\(given.joined(separator: ", ")))"
            reader.error(node, path, "\(problem); give exactly one of: \(Self.actions.joined(separator: ", "))")
            return nil
        }
        let actionPath = "\(path).\(actionKey)"
        let action: Configuration.Action?
        switch actionKey {
        case "static": action = staticAction(actionNode, actionPath).map { .static($0) }
        case "redirect": action = redirect(actionNode, actionPath).map { .redirect($0) }
        case "upload": action = upload(actionNode, actionPath).map { .upload($0) }
        case "proxy": action = proxy(actionNode, actionPath).map { .proxy($0) }
        case "websocket": action = ChannelDecoder(reader: reader).websocket(actionNode, actionPath, match: match).map { .websocket($0) }
        case "sse": action = ChannelDecoder(reader: reader).sse(actionNode, actionPath, match: match).map { .sse($0) }
        default: action = respond(actionNode, actionPath).map { .respond($0) }
        }
        var headers: [(String, String)] = []
        if let n = m["headers"] { headers = reader.headerPairs(n, "\(path).headers") ?? [] }
        guard let match, let action else { return nil }
        var rateLimit: Configuration.RateLimit?
        if let n = m["rate_limit"], !reader.isNull(n) { rateLimit = self.rateLimit(n, "\(path).rate_limit", route: name, match: match) }
        var compression: Configuration.Compression?
        if let n = m["compression"] {
            var base = reader.compressionDefault
            base.enabled = true
            compression = CompressionDecoder(reader: reader).compression(n, "\(path).compression", base: base)
        }
        var cache: Configuration.Cache?
        if let n = m["cache"], !reader.isNull(n) {
            if actionKey == "proxy" {
                cache = CacheDecoder(reader: reader).route(n, "\(path).cache")
            } else {
                reader.error(n, "\(path).cache", "caches proxied responses only; remove it, or make the route a proxy route")
            }
        }
        var security = Configuration.RouteSecurity()
        let decoder = SecurityDecoder(reader: reader)
        if let n = m["access"], !reader.isNull(n) { security.access = decoder.access(n, "\(path).access") }
        if let n = m["cors"], !reader.isNull(n) { security.cors = decoder.cors(n, "\(path).cors") }
        if let n = m["security_headers"], !reader.isNull(n) { security.headers = decoder.headers(n, "\(path).security_headers") }
        if let n = m["waf"], !reader.isNull(n) { security.waf = decoder.waf(n, "\(path).waf") }
        if let n = m["auth"], !reader.isNull(n), let v = reader.string(n, "\(path).auth") {
            if authNames.contains(v) {
                security.auth = v
            } else {
                let known = authNames.isEmpty ? "the top-level auth: section defines none" : "known: \(authNames.sorted().joined(separator: ", "))"
                reader.error(n, "\(path).auth", "'\(v)' is not an authenticator (\(known))")
            }
        }
        return Configuration.Route(
            name: name, match: match, action: action, headers: headers, rateLimit: rateLimit, compression: compression, cache: cache,
            security: security
        )
    }

    private func match(_ node: Node, _ path: String) -> Configuration.Match? {
        guard let m = reader.mapping(node, path, allowed: ["path", "prefix", "regex", "methods", "headers", "query"]) else {
            return nil
        }
        let kinds = ["path", "prefix", "regex"].filter { m[$0] != nil }
        guard kinds.count == 1, let kind = kinds.first, let valueNode = m[kind],
            let value = reader.string(valueNode, "\(path).\(kind)")
        else {
            reader.error(node, path, "give exactly one of path, prefix or regex")
            return nil
        }
        let pathMatch: Configuration.Match.Path
        switch kind {
        case "regex":
            do {
                _ = try NSRegularExpression(pattern: value)
            } catch {
                reader.error(valueNode, "\(path).regex", "'\(value)' is not a valid regular expression")
                return nil
            }
            pathMatch = .regex(value)
        default:
            guard value.hasPrefix("/") else {
                reader.error(valueNode, "\(path).\(kind)", "'\(value)' must start with /")
                return nil
            }
            if kind == "prefix" {
                pathMatch = .prefix(value)
            } else if value.contains(":") || value.contains("*") {
                guard validatePattern(value, valueNode, "\(path).path") else { return nil }
                pathMatch = .pattern(value)
            } else {
                pathMatch = .exact(value)
            }
        }
        var methods: [String] = []
        if let n = m["methods"], let v = reader.strings(n, "\(path).methods") {
            methods = v.map { $0.uppercased() }
            for method in methods where !HeaderSyntax.isToken(method) {
                reader.error(n, "\(path).methods", "'\(method)' is not a method name")
            }
        }
        var headers: [Configuration.HeaderCondition] = []
        if let n = m["headers"] {
            guard case .mapping(let map) = n else {
                reader.error(n, "\(path).headers", "expected a mapping of header name to value (or ~ for any value)")
                return nil
            }
            for (k, v) in map {
                guard let name = k.string, HeaderSyntax.isToken(name) else {
                    reader.error(k, "\(path).headers", "'\(k.string ?? "")' is not a header name")
                    continue
                }
                let value: String? = (v.null != nil || v.string == "*") ? nil : v.string
                headers.append(.init(name: name.lowercased(), value: value))
            }
        }
        var query: [Configuration.QueryCondition] = []
        if let n = m["query"] { query = queryConditions(n, "\(path).query") }
        return Configuration.Match(path: pathMatch, methods: methods, headers: headers, query: query)
    }

    /// `:name` segments need a name; `*` may only be the whole last segment.
    private func validatePattern(_ pattern: String, _ node: Node, _ path: String) -> Bool {
        let segments = pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (i, segment) in segments.enumerated() {
            if segment.contains("*") && (segment != "*" || i != segments.count - 1) {
                reader.error(node, path, "'*' must be the whole last segment, like /files/*")
                return false
            }
            if segment.hasPrefix(":") && segment.count == 1 {
                reader.error(node, path, "a ':' parameter needs a name, like /users/:id")
                return false
            }
        }
        return true
    }

    private func staticAction(_ node: Node, _ path: String) -> Configuration.StaticAction? {
        let keys = [
            "root", "strip_prefix", "index", "try_files", "precompressed", "dotfiles",
            "follow_symlinks_outside_root", "cache_control", "memory_cache_max_file_size",
            "metadata_cache_validity", "metadata_cache_entries",
        ]
        guard let m = reader.mapping(node, path, allowed: keys) else { return nil }
        var a = Configuration.StaticAction()
        if let n = m["root"], let v = reader.optionalString(n, "\(path).root") { a.root = v }
        if let n = m["strip_prefix"], let v = reader.optionalString(n, "\(path).strip_prefix"), let v {
            if v.hasPrefix("/") { a.stripPrefix = v } else { reader.error(n, "\(path).strip_prefix", "must start with /") }
        }
        if let n = m["index"], let v = reader.strings(n, "\(path).index") {
            a.index = v
            for name in v where name.contains("/") || name.isEmpty {
                reader.error(n, "\(path).index", "'\(name)' must be a plain file name, like index.html")
            }
        }
        if let n = m["try_files"], let v = reader.strings(n, "\(path).try_files") {
            a.tryFiles = v
            for (i, candidate) in v.enumerated() {
                let ok = candidate == "$uri" || candidate == "$uri/" || candidate.hasPrefix("/")
                    || (candidate.hasPrefix("=") && i == v.count - 1 && Int(candidate.dropFirst()).map { (400...599).contains($0) } == true)
                if !ok {
                    reader.error(n, "\(path).try_files[\(i)]", "'\(candidate)' is not a candidate; expected $uri, $uri/, /a/path, or a final =404")
                }
            }
        }
        if let n = m["precompressed"], let v = reader.strings(n, "\(path).precompressed") {
            a.precompressed = v.map { $0.lowercased() }
            for enc in a.precompressed where enc != "br" && enc != "gzip" {
                reader.error(n, "\(path).precompressed", "'\(enc)' is not supported; expected br and/or gzip")
            }
        }
        if let n = m["dotfiles"], let v = reader.choice(n, "\(path).dotfiles", as: Configuration.StaticAction.Dotfiles.self) {
            a.dotfiles = v
        }
        if let n = m["follow_symlinks_outside_root"], let v = reader.bool(n, "\(path).follow_symlinks_outside_root") {
            a.followSymlinksOutsideRoot = v
        }
        if let n = m["cache_control"], let v = reader.optionalString(n, "\(path).cache_control"), let v {
            if HeaderSyntax.isValidValue(v) { a.cacheControl = v } else {
                reader.error(n, "\(path).cache_control", "holds a control character; remove it")
            }
        }
        if let n = m["memory_cache_max_file_size"],
            let v = reader.size(n, "\(path).memory_cache_max_file_size", range: 0...(16 << 20))
        {
            a.memoryCacheMaxFileSize = v
        }
        if let n = m["metadata_cache_validity"],
            let v = reader.duration(n, "\(path).metadata_cache_validity", range: .zero...(.seconds(3600)))
        {
            a.metadataCacheValidity = v
        }
        if let n = m["metadata_cache_entries"], let v = reader.int(n, "\(path).metadata_cache_entries", range: 0...1_000_000) {
            a.metadataCacheEntries = v
        }
        return a
    }

    private func redirect(_ node: Node, _ path: String) -> Configuration.RedirectAction? {
        guard let m = reader.mapping(node, path, allowed: ["to", "status"]) else { return nil }
        guard let toNode = m["to"], let to = reader.string(toNode, "\(path).to") else {
            reader.error(node, "\(path).to", "missing; give the target URL, like https://$host$request_uri")
            return nil
        }
        guard HeaderSyntax.isValidValue(to) else {
            reader.error(toNode, "\(path).to", "holds a control character; remove it")
            return nil
        }
        var action = Configuration.RedirectAction(to: to)
        if let n = m["status"], let v = reader.int(n, "\(path).status", range: 300...399) {
            if [301, 302, 303, 307, 308].contains(v) {
                action.status = v
            } else {
                reader.error(n, "\(path).status", "\(v) is not a redirect status; expected 301, 302, 303, 307 or 308")
            }
        }
        return action
    }

    private func respond(_ node: Node, _ path: String) -> Configuration.RespondAction? {
        guard let m = reader.mapping(node, path, allowed: ["status", "headers", "body"]) else { return nil }
        var action = Configuration.RespondAction()
        if let n = m["status"], let v = reader.int(n, "\(path).status", range: 200...599) { action.status = v }
        if let n = m["headers"], let v = reader.headerPairs(n, "\(path).headers") { action.headers = v }
        if let n = m["body"], let v = reader.string(n, "\(path).body") { action.body = v }
        return action
    }

    private func upload(_ node: Node, _ path: String) -> Configuration.UploadAction? {
        guard let m = reader.mapping(node, path, allowed: ["root", "strip_prefix", "max_bytes", "overwrite", "create_directories"]) else {
            return nil
        }
        guard let rootNode = m["root"], let root = reader.string(rootNode, "\(path).root") else {
            reader.error(node, "\(path).root", "missing; give the directory uploads are written to, like root: /srv/uploads")
            return nil
        }
        guard !root.isEmpty else {
            reader.error(rootNode, "\(path).root", "is empty; give the directory uploads are written to")
            return nil
        }
        var action = Configuration.UploadAction(root: root)
        if let n = m["strip_prefix"], !reader.isNull(n), let v = reader.string(n, "\(path).strip_prefix") {
            if v.hasPrefix("/") { action.stripPrefix = v } else { reader.error(n, "\(path).strip_prefix", "'\(v)' must start with /") }
        }
        if let n = m["max_bytes"], !reader.isNull(n), let v = reader.size(n, "\(path).max_bytes", range: 1...(1 << 50)) { action.maxBytes = v }
        if let n = m["overwrite"], let v = reader.bool(n, "\(path).overwrite") { action.overwrite = v }
        if let n = m["create_directories"], let v = reader.bool(n, "\(path).create_directories") { action.createDirectories = v }
        return action
    }

    private func rateLimit(_ node: Node, _ path: String, route: String?, match: Configuration.Match) -> Configuration.RateLimit? {
        let keys = ["name", "rate", "per", "burst", "key", "scope", "mode", "batch"]
        guard let m = reader.mapping(node, path, allowed: keys) else { return nil }
        guard let rateNode = m["rate"] else {
            reader.error(node, "\(path).rate", "missing; give the requests allowed per period, like rate: 100 (with per: 1s)")
            return nil
        }
        guard let rate = reader.int(rateNode, "\(path).rate", range: 1...100_000_000) else { return nil }
        // Unnamed: the route's path condition, so two unnamed routes do not share a bucket by accident.
        var name = route ?? Self.describe(match.path)
        if let n = m["name"], let v = reader.string(n, "\(path).name") {
            if v.isEmpty || v.utf8.contains(where: { $0 < 0x20 || $0 > 0x7E }) {
                reader.error(n, "\(path).name", "'\(v)' cannot name a policy; use printable ASCII, like api-default")
            } else {
                name = v
            }
        }
        var limit = Configuration.RateLimit(name: name, rate: rate)
        if let n = m["per"], let v = reader.duration(n, "\(path).per", range: .milliseconds(1)...(.seconds(86400))) { limit.per = v }
        if let n = m["burst"], let v = reader.int(n, "\(path).burst", range: 1...100_000_000) { limit.burst = v }
        if let n = m["scope"], let v = reader.choice(n, "\(path).scope", as: Configuration.RateLimit.Scope.self) { limit.scope = v }
        if let n = m["mode"], let v = reader.choice(n, "\(path).mode", as: Configuration.RateLimit.Mode.self) {
            limit.mode = v
            if limit.scope == .local { reader.error(n, "\(path).mode", "applies to scope: global only; remove mode or set scope: global") }
        }
        if let n = m["batch"], let v = reader.int(n, "\(path).batch", range: 1...100_000) {
            limit.batch = v
            if v > limit.burst { reader.error(n, "\(path).batch", "\(v) is larger than burst \(limit.burst); a lease cannot hold more than the bucket") }
        }
        if let n = m["key"], let text = reader.string(n, "\(path).key") {
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            switch (parts.first, parts.count) {
            case ("client_ip", 1): limit.key = .clientIP
            case ("route", 1): limit.key = .route
            case ("header", 2) where !parts[1].isEmpty: limit.key = .header(parts[1].lowercased())
            case ("cookie", 2) where !parts[1].isEmpty: limit.key = .cookie(parts[1])
            case ("param", 2) where !parts[1].isEmpty:
                if case .pattern(let pattern) = match.path, pattern.split(separator: "/").contains(Substring(":" + parts[1])) {
                    limit.key = .parameter(parts[1])
                } else {
                    reader.error(n, "\(path).key", "the route's path has no :\(parts[1]) parameter; match a path like /tenants/:\(parts[1])/*")
                }
            default:
                reader.error(n, "\(path).key", "'\(text)' is not a limit key; expected client_ip, route, header:NAME, cookie:NAME or param:NAME")
            }
        }
        if let other = reader.rateLimitPolicies[limit.name], other != limit {
            reader.error(
                m["name"] ?? node, "\(path).name",
                "'\(limit.name)' names another route's rate limit with other settings; routes share a policy (one bucket) only with the same settings: give this one its own name"
            )
        } else {
            reader.rateLimitPolicies[limit.name] = limit
        }
        return limit
    }

    static func describe(_ path: Configuration.Match.Path) -> String {
        switch path {
        case .exact(let p), .pattern(let p), .prefix(let p): return p
        case .regex(let r): return "~" + r
        }
    }
}
