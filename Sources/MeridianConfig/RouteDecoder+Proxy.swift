internal import Foundation
internal import Yams

extension RouteDecoder {
    /// `proxy: api`, or `proxy: {upstream: api, strip_prefix:, rewrite:, host:, request_headers:, response_headers:, max_body_bytes:}`.
    func proxy(_ node: Node, _ path: String) -> Configuration.ProxyAction? {
        var upstreamNode = node
        var m: [String: Node] = [:]
        if case .mapping = node {
            let keys = ["upstream", "strip_prefix", "rewrite", "host", "request_headers", "response_headers", "max_body_bytes"]
            guard let map = reader.mapping(node, path, allowed: keys) else { return nil }
            m = map
            guard let u = m["upstream"] else {
                reader.error(node, "\(path).upstream", "missing; name the upstream cluster, like upstream: api")
                return nil
            }
            upstreamNode = u
        }
        guard let upstream = reader.string(upstreamNode, "\(path).upstream") else { return nil }
        guard upstreamNames.contains(upstream) else {
            let known = upstreamNames.sorted()
            let hint = known.isEmpty ? "no upstreams are defined; add one under upstreams:" : "defined: \(known.joined(separator: ", "))"
            reader.error(upstreamNode, "\(path).upstream", "'\(upstream)' is not an upstream; \(hint)")
            return nil
        }
        var action = Configuration.ProxyAction(upstream: upstream)
        if let n = m["strip_prefix"], !reader.isNull(n), let v = reader.string(n, "\(path).strip_prefix") {
            if v.hasPrefix("/") { action.stripPrefix = v } else { reader.error(n, "\(path).strip_prefix", "'\(v)' must start with /") }
        }
        if let n = m["rewrite"], !reader.isNull(n), let r = reader.mapping(n, "\(path).rewrite", allowed: ["regex", "to"]) {
            if let rn = r["regex"], let regex = reader.string(rn, "\(path).rewrite.regex"), let tn = r["to"],
                let to = reader.string(tn, "\(path).rewrite.to")
            {
                if (try? NSRegularExpression(pattern: regex)) == nil {
                    reader.error(rn, "\(path).rewrite.regex", "'\(regex)' is not a valid regular expression")
                } else if !to.hasPrefix("/") || !HeaderSyntax.isValidValue(to) || to.contains(" ") {
                    reader.error(tn, "\(path).rewrite.to", "'\(to)' must be a path starting with /, like /v2/$1")
                } else {
                    action.rewrite = (regex, to)
                }
            } else {
                reader.error(n, "\(path).rewrite", "give both regex and to, like {regex: ^/v1/(.*), to: /v2/$1}")
            }
        }
        if let n = m["host"], let v = reader.string(n, "\(path).host") {
            switch v {
            case "pass": action.host = .pass
            case "upstream": action.host = .upstream
            default:
                if HeaderSyntax.isValidValue(v) && !v.isEmpty && !v.contains(" ") { action.host = .fixed(v) } else {
                    reader.error(n, "\(path).host", "'\(v)' is not a host; expected pass, upstream, or a host name")
                }
            }
        }
        if let n = m["request_headers"] { action.requestHeaders = headerRules(n, "\(path).request_headers") }
        if let n = m["response_headers"] { action.responseHeaders = headerRules(n, "\(path).response_headers") }
        if let n = m["max_body_bytes"], !reader.isNull(n), let v = reader.size(n, "\(path).max_body_bytes", range: 0...(1 << 50)) {
            action.maxBodyBytes = v
        }
        return action
    }

    private func headerRules(_ node: Node, _ path: String) -> Configuration.ProxyAction.HeaderRules {
        var rules = Configuration.ProxyAction.HeaderRules()
        guard let m = reader.mapping(node, path, allowed: ["set", "add", "remove"]) else { return rules }
        if let n = m["set"], let v = reader.headerPairs(n, "\(path).set") { rules.set = v }
        if let n = m["add"], let v = reader.headerPairs(n, "\(path).add") { rules.add = v }
        if let n = m["remove"], let v = reader.strings(n, "\(path).remove") {
            for name in v where !HeaderSyntax.isToken(name) { reader.error(n, "\(path).remove", "'\(name)' is not a header name") }
            rules.remove = v.filter(HeaderSyntax.isToken).map { $0.lowercased() }
        }
        return rules
    }

    /// `query: {version: "2", debug: ~, id: {regex: "^[0-9]+$"}}`: equal, present, or matching.
    func queryConditions(_ node: Node, _ path: String) -> [Configuration.QueryCondition] {
        guard case .mapping(let map) = node else {
            reader.error(node, path, "expected a mapping of parameter name to value, ~ (present), or {regex: ...}")
            return []
        }
        var result: [Configuration.QueryCondition] = []
        for (k, v) in map {
            guard let name = k.string, !name.isEmpty else {
                reader.error(k, path, "a query parameter name must be a non-empty string")
                continue
            }
            if case .mapping = v {
                guard let r = reader.mapping(v, "\(path).\(name)", allowed: ["regex"]), let rn = r["regex"],
                    let regex = reader.string(rn, "\(path).\(name).regex")
                else { continue }
                if (try? NSRegularExpression(pattern: regex)) == nil {
                    reader.error(rn, "\(path).\(name).regex", "'\(regex)' is not a valid regular expression")
                    continue
                }
                result.append(.init(name: name, test: .regex(regex)))
            } else if reader.isNull(v) || v.string == "*" {
                result.append(.init(name: name, test: .present))
            } else if let value = reader.string(v, "\(path).\(name)") {
                result.append(.init(name: name, test: .equals(value)))
            }
        }
        return result
    }
}
