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
}
