internal import Yams

/// Decodes the security sections: address rules (listeners and routes), security headers, CORS and the
/// top-level `auth:` authenticators.
struct SecurityDecoder {
    let reader: ConfigReader

    /// `access: {allow: [CIDR…], deny: [CIDR…]}`.
    func access(_ node: Node, _ path: String) -> Configuration.AccessRules? {
        guard let m = reader.mapping(node, path, allowed: ["allow", "deny"]) else { return nil }
        var rules = Configuration.AccessRules()
        var given = 0
        for key in ["allow", "deny"] {
            guard let n = m[key], let items = reader.strings(n, "\(path).\(key)") else { continue }
            given += items.count
            var networks: [IPNetwork] = []
            for (i, item) in items.enumerated() {
                if let network = IPNetwork(parsing: item) {
                    networks.append(network)
                } else {
                    reader.error(n, "\(path).\(key)[\(i)]", "'\(item)' is not an address or network; expected 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32")
                }
            }
            if key == "allow" { rules.allow = networks } else { rules.deny = networks }
        }
        if given == 0 { reader.error(node, path, "lists no address; give allow, deny or both, or remove the section") }
        return rules
    }

    /// `security_headers: strict`, or `{preset: strict, content_security_policy: "…", …}`: a preset and per-header
    /// changes ("" or ~ removes a preset's header).
    func headers(_ node: Node, _ path: String) -> Configuration.SecurityHeaders? {
        if case .scalar = node {
            guard let preset = reader.choice(node, path, as: Configuration.SecurityHeadersPreset.self) else { return nil }
            return Configuration.SecurityHeaders(preset: preset)
        }
        let values = [
            "hsts", "referrer_policy", "content_security_policy", "permissions_policy", "cross_origin_opener_policy",
            "cross_origin_resource_policy", "frame_ancestors",
        ]
        guard let m = reader.mapping(node, path, allowed: ["preset", "content_type_options", "override"] + values) else { return nil }
        var preset: Configuration.SecurityHeadersPreset?
        if let n = m["preset"] { preset = reader.choice(n, "\(path).preset", as: Configuration.SecurityHeadersPreset.self) }
        var nosniff: Bool?
        if let n = m["content_type_options"] { nosniff = reader.bool(n, "\(path).content_type_options") }
        var override = false
        if let n = m["override"], let v = reader.bool(n, "\(path).override") { override = v }
        func value(_ key: String) -> String? {
            guard let n = m[key] else { return nil }
            return reader.isNull(n) ? "" : reader.string(n, "\(path).\(key)")
        }
        if preset == nil, nosniff == nil, values.allSatisfy({ m[$0] == nil }) {
            reader.error(node, path, "sets no header; give a preset (basic, strict) or header values")
            return nil
        }
        let h = Configuration.SecurityHeaders(
            preset: preset, hsts: value("hsts"), contentTypeOptions: nosniff, referrerPolicy: value("referrer_policy"),
            contentSecurityPolicy: value("content_security_policy"), permissionsPolicy: value("permissions_policy"),
            crossOriginOpenerPolicy: value("cross_origin_opener_policy"), crossOriginResourcePolicy: value("cross_origin_resource_policy"),
            frameAncestors: value("frame_ancestors"), override: override
        )
        for problem in h.problems { reader.error(node, path, problem) }
        return h
    }

    /// `cors: {origins: [...], methods: [...], allow_headers: [...], expose_headers: [...], credentials, max_age, private_network}`.
    func cors(_ node: Node, _ path: String) -> Configuration.CORS? {
        let keys = ["origins", "methods", "allow_headers", "expose_headers", "credentials", "max_age", "private_network"]
        guard let m = reader.mapping(node, path, allowed: keys) else { return nil }
        guard let originsNode = m["origins"] else {
            reader.error(node, "\(path).origins", "missing; list the origins allowed, like [https://app.example.com, \"https://*.example.com\"] (or \"*\")")
            return nil
        }
        var c = Configuration.CORS(origins: reader.strings(originsNode, "\(path).origins") ?? [])
        if let n = m["methods"], let v = reader.strings(n, "\(path).methods") { c.methods = v }
        if let n = m["allow_headers"], let v = reader.strings(n, "\(path).allow_headers") { c.allowHeaders = v }
        if let n = m["expose_headers"], let v = reader.strings(n, "\(path).expose_headers") { c.exposeHeaders = v }
        if let n = m["credentials"], let v = reader.bool(n, "\(path).credentials") { c.credentials = v }
        if let n = m["max_age"] {
            if reader.isNull(n) {
                c.maxAge = nil
            } else if let v = reader.duration(n, "\(path).max_age", range: .zero...(.seconds(86400))) {
                c.maxAge = Int(v.components.seconds)
            }
        }
        if let n = m["private_network"], let v = reader.bool(n, "\(path).private_network") { c.allowPrivateNetwork = v }
        for problem in c.problems { reader.error(node, path, problem) }
        return c
    }

    /// `waf: on` (blocking, paranoia level 1) or `waf: {mode, paranoia_level, anomaly_threshold, max_body}`.
    func waf(_ node: Node, _ path: String) -> Configuration.WAF? {
        if case .scalar = node {
            guard let on = reader.bool(node, path) else { return nil }
            return on ? Configuration.WAF() : nil
        }
        let keys = ["mode", "paranoia_level", "anomaly_threshold", "max_body", "allowed_methods", "allowed_content_types", "exclude_rules", "max_queue"]
        guard let m = reader.mapping(node, path, allowed: keys) else { return nil }
        var w = Configuration.WAF()
        if let n = m["mode"], let v = reader.choice(n, "\(path).mode", as: Configuration.WAF.Mode.self) { w.mode = v }
        if let n = m["paranoia_level"], let v = reader.int(n, "\(path).paranoia_level", range: 1...4) { w.paranoiaLevel = v }
        if let n = m["anomaly_threshold"], let v = reader.int(n, "\(path).anomaly_threshold", range: 1...1000) { w.anomalyThreshold = v }
        if let n = m["max_body"], let v = reader.size(n, "\(path).max_body", range: 0...(16 << 20)) { w.maxBodyBytes = v }
        if let n = m["allowed_methods"], let v = reader.strings(n, "\(path).allowed_methods") {
            if v.isEmpty { reader.error(n, "\(path).allowed_methods", "is empty: every request would be refused; list methods such as [GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS]") }
            for method in v where !HeaderSyntax.isToken(method) || method != method.uppercased() {
                reader.error(n, "\(path).allowed_methods", "'\(method)' is not a method name; methods are upper-case tokens such as PUT")
            }
            w.allowedMethods = v
        }
        if let n = m["allowed_content_types"], let v = reader.strings(n, "\(path).allowed_content_types") {
            for type in v {
                let parts = type.split(separator: "/", omittingEmptySubsequences: false)
                if parts.count != 2 || !parts.allSatisfy({ !$0.isEmpty && HeaderSyntax.isToken(String($0)) }) {
                    reader.error(n, "\(path).allowed_content_types", "'\(type)' is not a media type; expected type/subtype such as application/json")
                }
            }
            w.allowedContentTypes = v.map { $0.lowercased() }
        }
        if let n = m["max_queue"], let v = reader.int(n, "\(path).max_queue", range: 1...100_000) { w.maxQueue = v }
        if let n = m["exclude_rules"], let items = reader.sequence(n, "\(path).exclude_rules") {
            for item in items {
                if let id = reader.int(item, "\(path).exclude_rules", range: 1...99_999_999) { w.excludedRules.append(id) }
            }
        }
        return w
    }

    /// The top-level `auth:`: a mapping of names to one kind each (`api_key`, `basic`, `jwt`).
    func authenticators(_ node: Node) -> [Configuration.Authenticator] {
        guard case .mapping(let map) = node else {
            if !reader.isNull(node) { reader.error(node, "auth", "expected a mapping of names to authenticators, like staff: {basic: {users: […]}}") }
            return []
        }
        var result: [Configuration.Authenticator] = []
        for (k, v) in map {
            guard let name = k.string, !name.isEmpty, HeaderSyntax.isToken(name) else {
                reader.error(k, "auth", "'\(k.string ?? "")' is not a usable name; use letters, digits, - and _")
                continue
            }
            let path = "auth.\(name)"
            guard let m = reader.mapping(v, path, allowed: Configuration.Authenticator.kinds) else { continue }
            let given = Configuration.Authenticator.kinds.filter { m[$0] != nil }
            guard given.count == 1, let kind = given.first, let kindNode = m[kind] else {
                reader.error(v, path, "give exactly one of: \(Configuration.Authenticator.kinds.joined(separator: ", "))")
                continue
            }
            let kindPath = "\(path).\(kind)"
            switch kind {
            case "api_key": if let a = apiKey(kindNode, kindPath) { result.append(.init(name: name, kind: .apiKey(a))) }
            case "basic": if let b = basic(kindNode, kindPath) { result.append(.init(name: name, kind: .basic(b))) }
            case "forward": if let f = AuthDecoder(reader: reader).forward(kindNode, kindPath) { result.append(.init(name: name, kind: .forward(f))) }
            case "session": if let g = AuthDecoder(reader: reader).session(kindNode, kindPath) { result.append(.init(name: name, kind: .session(g))) }
            default: if let j = AuthDecoder(reader: reader).jwt(kindNode, kindPath) { result.append(.init(name: name, kind: .jwt(j))) }
            }
        }
        return result
    }

    private func apiKey(_ node: Node, _ path: String) -> Configuration.APIKey? {
        guard let m = reader.mapping(node, path, allowed: ["header", "query", "keys", "name_header"]) else { return nil }
        var a = Configuration.APIKey()
        if m["query"] != nil, m["header"] == nil { a.header = nil }
        if let n = m["header"] { a.header = headerName(n, "\(path).header") }
        if let n = m["query"] { a.query = reader.isNull(n) ? nil : reader.string(n, "\(path).query") }
        if let n = m["name_header"] { a.nameHeader = headerName(n, "\(path).name_header") }
        if a.header == nil, a.query == nil { reader.error(node, path, "reads the key from nowhere; give header, query or both") }
        guard let keysNode = m["keys"], let items = reader.sequence(keysNode, "\(path).keys"), !items.isEmpty else {
            reader.error(node, "\(path).keys", "missing; list {name: NAME, sha256: DIGEST} (the digest of a key: printf %s \"$KEY\" | sha256sum)")
            return nil
        }
        var names = Set<String>()
        var digests = Set<String>()
        for (i, item) in items.enumerated() {
            let kpath = "\(path).keys[\(i)]"
            guard let k = reader.mapping(item, kpath, allowed: ["name", "sha256"]),
                let nameNode = k["name"], let name = reader.string(nameNode, "\(kpath).name"),
                let digestNode = k["sha256"], let digest = reader.string(digestNode, "\(kpath).sha256")
            else {
                reader.error(item, kpath, "needs name and sha256")
                continue
            }
            let hex = digest.lowercased()
            if hex.utf8.count != 64 || !hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) {
                reader.error(digestNode, "\(kpath).sha256", "is not a SHA-256 digest (64 hex digits); make one with: printf %s \"$KEY\" | sha256sum")
                continue
            }
            if !names.insert(name).inserted { reader.error(nameNode, "\(kpath).name", "'\(name)' is named twice; key names must differ") }
            if !digests.insert(hex).inserted { reader.error(digestNode, "\(kpath).sha256", "is listed twice; every key must differ") }
            a.keys.append(.init(name: name, sha256: hex))
        }
        return a
    }

    private func basic(_ node: Node, _ path: String) -> Configuration.Basic? {
        guard let m = reader.mapping(node, path, allowed: ["realm", "users", "user_header", "cache_ttl"]) else { return nil }
        var b = Configuration.Basic()
        if let n = m["realm"], let v = reader.string(n, "\(path).realm") {
            if v.isEmpty || v.contains("\"") || v.contains("\\") || !HeaderSyntax.isValidValue(v) {
                reader.error(n, "\(path).realm", "must be non-empty text without quotes, backslashes or control characters")
            } else {
                b.realm = v
            }
        }
        if let n = m["user_header"] { b.userHeader = headerName(n, "\(path).user_header") }
        if let n = m["cache_ttl"], let v = reader.duration(n, "\(path).cache_ttl", range: .zero...(.seconds(86400))) { b.cacheTTL = v }
        guard let usersNode = m["users"], let items = reader.sequence(usersNode, "\(path).users"), !items.isEmpty else {
            reader.error(node, "\(path).users", "missing; list {name: NAME, hash: HASH} (meridian hash-password prints a hash)")
            return nil
        }
        var names = Set<String>()
        for (i, item) in items.enumerated() {
            let upath = "\(path).users[\(i)]"
            guard let u = reader.mapping(item, upath, allowed: ["name", "hash"]),
                let nameNode = u["name"], let name = reader.string(nameNode, "\(upath).name"),
                let hashNode = u["hash"], let hash = reader.string(hashNode, "\(upath).hash")
            else {
                reader.error(item, upath, "needs name and hash")
                continue
            }
            if name.isEmpty || name.contains(":") { reader.error(nameNode, "\(upath).name", "must be non-empty and without ':' (RFC 7617)") }
            if !names.insert(name).inserted { reader.error(nameNode, "\(upath).name", "'\(name)' is listed twice") }
            do {
                _ = try PasswordHash(parsing: hash)
            } catch {
                reader.error(hashNode, "\(upath).hash", error.description)
            }
            b.users.append(.init(name: name, hash: hash))
        }
        return b
    }

    /// A header name, lower-cased; null or "" for none.
    func headerName(_ node: Node, _ path: String) -> String? {
        if reader.isNull(node) { return nil }
        guard let v = reader.string(node, path) else { return nil }
        if v.isEmpty { return nil }
        guard HeaderSyntax.isToken(v) else {
            reader.error(node, path, "'\(v)' is not a header name")
            return nil
        }
        return v.lowercased()
    }
}
