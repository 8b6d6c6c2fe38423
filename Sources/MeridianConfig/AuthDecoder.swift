internal import Foundation
internal import Yams

/// Decodes a `jwt` authenticator: its keys, JWKS source and the claims it checks.
struct AuthDecoder {
    let reader: ConfigReader

    func jwt(_ node: Node, _ path: String) -> Configuration.JWT? {
        let allowed = [
            "keys", "jwks_url", "jwks_refresh", "jwks_min_refresh", "issuer", "audience", "leeway", "require_exp", "required_claims",
            "forward_claims", "realm",
        ]
        guard let m = reader.mapping(node, path, allowed: allowed) else { return nil }
        var j = Configuration.JWT()
        if let n = m["keys"], let items = reader.sequence(n, "\(path).keys"), !items.isEmpty {
            j.keys.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                if let key = key(item, "\(path).keys[\(i)]") { j.keys.append(key) }
            }
        }
        if let n = m["jwks_url"], let v = reader.string(n, "\(path).jwks_url") {
            if let url = URL(string: v), url.scheme == "https" || url.scheme == "http", url.host != nil {
                j.jwksURL = v
            } else {
                reader.error(n, "\(path).jwks_url", "'\(v)' is not an http(s) URL")
            }
        }
        if m["keys"] == nil, m["jwks_url"] == nil { reader.error(node, path, "has no keys; give keys, jwks_url or both") }
        if let n = m["jwks_refresh"], let v = reader.duration(n, "\(path).jwks_refresh", range: .seconds(1)...(.seconds(86400))) { j.jwksRefresh = v }
        if let n = m["jwks_min_refresh"], let v = reader.duration(n, "\(path).jwks_min_refresh", range: .zero...(.seconds(3600))) {
            j.jwksMinRefresh = v
        }
        if let n = m["issuer"], let v = reader.strings(n, "\(path).issuer") { j.issuers = v }
        if let n = m["audience"], let v = reader.strings(n, "\(path).audience") { j.audiences = v }
        if let n = m["leeway"], let v = reader.duration(n, "\(path).leeway", range: .zero...(.seconds(600))) { j.leeway = v }
        if let n = m["require_exp"], let v = reader.bool(n, "\(path).require_exp") { j.requireExpiration = v }
        if let n = m["required_claims"], let v = reader.strings(n, "\(path).required_claims") { j.requiredClaims = v }
        if let n = m["realm"], let v = reader.string(n, "\(path).realm") {
            if v.isEmpty || v.contains("\"") || v.contains("\\") || !HeaderSyntax.isValidValue(v) {
                reader.error(n, "\(path).realm", "must be non-empty text without quotes, backslashes or control characters")
            } else {
                j.realm = v
            }
        }
        if let n = m["forward_claims"] {
            if case .mapping(let map) = n {
                for (k, v) in map {
                    guard let claim = k.string, !claim.isEmpty else { continue }
                    if let header = SecurityDecoder(reader: reader).headerName(v, "\(path).forward_claims.\(claim)") {
                        j.forwardClaims.append((claim, header))
                    }
                }
            } else {
                reader.error(n, "\(path).forward_claims", "expected a mapping of claim to header, like {sub: X-User-Id}")
            }
        }
        return j
    }

    private func key(_ node: Node, _ path: String) -> Configuration.JWT.Key? {
        guard let m = reader.mapping(node, path, allowed: ["kid", "alg", "file", "secret_env", "secret_file"]) else { return nil }
        guard let algNode = m["alg"], let alg = reader.string(algNode, "\(path).alg") else {
            reader.error(node, "\(path).alg", "missing; give the one algorithm this key verifies (\(Configuration.JWT.algorithms.joined(separator: ", ")))")
            return nil
        }
        guard let algorithm = Configuration.JWT.algorithms.first(where: { $0.lowercased() == alg.lowercased() }) else {
            reader.error(algNode, "\(path).alg", "'\(alg)' is not allowed; expected one of: \(Configuration.JWT.algorithms.joined(separator: ", "))")
            return nil
        }
        let sources = ["file", "secret_env", "secret_file"].filter { m[$0] != nil }
        guard sources.count == 1, let source = sources.first, let sourceNode = m[source], let value = reader.string(sourceNode, "\(path).\(source)") else {
            reader.error(node, path, "give exactly one of file (a PEM public key), secret_env or secret_file (an HMAC secret)")
            return nil
        }
        let isHMAC = algorithm.hasPrefix("HS")
        if isHMAC != (source != "file") {
            reader.error(
                sourceNode, "\(path).\(source)",
                isHMAC ? "\(algorithm) needs a shared secret: use secret_env or secret_file" : "\(algorithm) needs a public key: use file (PEM)"
            )
            return nil
        }
        var kid: String?
        if let n = m["kid"] { kid = reader.string(n, "\(path).kid") }
        switch source {
        case "file":
            if !FileManager.default.isReadableFile(atPath: value) { reader.error(sourceNode, "\(path).file", "cannot read '\(value)'") }
            return .init(kid: kid, algorithm: algorithm, material: .file(value))
        case "secret_file":
            if !FileManager.default.isReadableFile(atPath: value) { reader.error(sourceNode, "\(path).secret_file", "cannot read '\(value)'") }
            return .init(kid: kid, algorithm: algorithm, material: .secretFile(value))
        default:
            return .init(kid: kid, algorithm: algorithm, material: .secretEnvironment(value))
        }
    }

    /// `session: {cookie, key_env | key_file, previous_key_env | previous_key_file, login_url, next_parameter, user_header, realm}`.
    func session(_ node: Node, _ path: String) -> Configuration.Session? {
        let allowed = ["cookie", "key_env", "key_file", "previous_key_env", "previous_key_file", "login_url", "next_parameter", "user_header", "realm"]
        guard let m = reader.mapping(node, path, allowed: allowed) else { return nil }
        func keySource(_ prefix: String, required: Bool) -> Configuration.Session.KeySource?? {
            let given = ["\(prefix)_env", "\(prefix)_file"].filter { m[$0] != nil }
            if given.isEmpty {
                if required { reader.error(node, "\(path).\(prefix)_env", "missing; give key_env (an environment variable) or key_file holding a 32-byte key, base64 or hex (openssl rand -base64 32)") }
                return required ? nil : .some(nil)
            }
            guard given.count == 1, let n = m[given[0]], let v = reader.string(n, "\(path).\(given[0])") else {
                reader.error(node, path, "give one of \(prefix)_env and \(prefix)_file")
                return nil
            }
            if given[0].hasSuffix("_file") {
                if !FileManager.default.isReadableFile(atPath: v) { reader.error(n, "\(path).\(given[0])", "cannot read '\(v)'") }
                return .some(.file(v))
            }
            return .some(.environment(v))
        }
        guard case .some(.some(let key)) = keySource("key", required: true) else { return nil }
        var s = Configuration.Session(key: key)
        if case .some(let previous) = keySource("previous_key", required: false) { s.previousKey = previous }
        if let n = m["cookie"], let v = reader.string(n, "\(path).cookie") {
            if HeaderSyntax.isToken(v) { s.cookie = v } else { reader.error(n, "\(path).cookie", "'\(v)' is not a cookie name") }
        }
        if let n = m["login_url"], let v = reader.string(n, "\(path).login_url") {
            if (v.hasPrefix("/") && !v.hasPrefix("//")) || v.hasPrefix("https://") || v.hasPrefix("http://"), HeaderSyntax.isValidValue(v) {
                s.loginURL = v
            } else {
                reader.error(n, "\(path).login_url", "'\(v)' is not a path (/login) or an http(s) URL")
            }
        }
        if let n = m["next_parameter"], let v = reader.string(n, "\(path).next_parameter") {
            if HeaderSyntax.isToken(v) { s.nextParameter = v } else { reader.error(n, "\(path).next_parameter", "'\(v)' is not a parameter name") }
        }
        if let n = m["user_header"] { s.userHeader = SecurityDecoder(reader: reader).headerName(n, "\(path).user_header") }
        if let n = m["realm"], let v = reader.string(n, "\(path).realm") {
            if v.isEmpty || v.contains("\"") || v.contains("\\") || !HeaderSyntax.isValidValue(v) {
                reader.error(n, "\(path).realm", "must be non-empty text without quotes, backslashes or control characters")
            } else {
                s.realm = v
            }
        }
        return s
    }

    /// `brute_force: {max_failures, window, ban, max_ban, by: [client_ip, user]}`.
    func bruteForce(_ node: Node) -> Configuration.BruteForce? {
        let path = "brute_force"
        guard let m = reader.mapping(node, path, allowed: ["max_failures", "window", "ban", "max_ban", "by"]) else { return nil }
        var b = Configuration.BruteForce()
        if let n = m["max_failures"], let v = reader.int(n, "\(path).max_failures", range: 1...10_000) { b.maxFailures = v }
        if let n = m["window"], let v = reader.duration(n, "\(path).window", range: .seconds(1)...(.seconds(86400))) { b.window = v }
        if let n = m["ban"], let v = reader.duration(n, "\(path).ban", range: .seconds(1)...(.seconds(30 * 86400))) { b.ban = v }
        if let n = m["max_ban"], let v = reader.duration(n, "\(path).max_ban", range: .seconds(1)...(.seconds(365 * 86400))) { b.maxBan = v }
        if b.maxBan < b.ban { reader.error(m["max_ban"] ?? node, "\(path).max_ban", "is shorter than ban; make it at least as long") }
        if let n = m["by"], let v = reader.strings(n, "\(path).by") {
            b.byAddress = v.contains("client_ip")
            b.byUser = v.contains("user")
            for item in v where item != "client_ip" && item != "user" {
                reader.error(n, "\(path).by", "'\(item)' is not allowed; expected client_ip, user or both")
            }
            if v.isEmpty { reader.error(n, "\(path).by", "is empty; give client_ip, user or both") }
        }
        return b
    }

    /// `forward: {url, request_headers, response_headers, timeout, cache_ttl}`.
    func forward(_ node: Node, _ path: String) -> Configuration.Forward? {
        let allowed = ["url", "request_headers", "response_headers", "timeout", "cache_ttl"]
        guard let m = reader.mapping(node, path, allowed: allowed) else { return nil }
        guard let urlNode = m["url"], let url = reader.string(urlNode, "\(path).url") else {
            reader.error(node, "\(path).url", "missing; give the auth service's URL, like http://auth.internal:9000/verify")
            return nil
        }
        guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else {
            reader.error(urlNode, "\(path).url", "'\(url)' is not an http(s) URL")
            return nil
        }
        var f = Configuration.Forward(url: url)
        for (key, assign) in [("request_headers", true), ("response_headers", false)] {
            guard let n = m[key], let v = reader.strings(n, "\(path).\(key)") else { continue }
            for name in v where !HeaderSyntax.isToken(name) { reader.error(n, "\(path).\(key)", "'\(name)' is not a header name") }
            if assign { f.requestHeaders = v.map { $0.lowercased() } } else { f.responseHeaders = v.map { $0.lowercased() } }
        }
        if let n = m["timeout"], let v = reader.duration(n, "\(path).timeout", range: .milliseconds(10)...(.seconds(60))) { f.timeout = v }
        if let n = m["cache_ttl"], let v = reader.duration(n, "\(path).cache_ttl", range: .zero...(.seconds(3600))) { f.cacheTTL = v }
        return f
    }
}
