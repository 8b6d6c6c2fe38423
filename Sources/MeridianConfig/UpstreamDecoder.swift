internal import Foundation
internal import Yams

/// Decodes `upstreams:`, the clusters that `proxy` routes send requests to.
struct UpstreamDecoder {
    let reader: ConfigReader

    func upstreams(_ node: Node) -> [Configuration.Upstream] {
        guard let items = reader.sequence(node, "upstreams") else { return [] }
        var result: [Configuration.Upstream] = []
        var names: Set<String> = []
        for (i, item) in items.enumerated() {
            let path = "upstreams[\(i)]"
            guard let upstream = upstream(item, path) else { continue }
            if !names.insert(upstream.name).inserted {
                reader.error(item, "\(path).name", "'\(upstream.name)' is used twice; upstream names must be unique")
                continue
            }
            result.append(upstream)
        }
        return result
    }

    private func upstream(_ node: Node, _ path: String) -> Configuration.Upstream? {
        let keys = [
            "name", "endpoints", "balancing", "resolve_interval", "pool", "timeouts", "retries", "circuit_breaker",
            "outlier_detection", "health_check", "max_active", "max_pending", "tls", "protocol",
        ]
        guard let m = reader.mapping(node, path, allowed: keys) else { return nil }
        guard let nameNode = m["name"], let name = reader.string(nameNode, "\(path).name"), !name.isEmpty else {
            reader.error(node, "\(path).name", "missing; give the cluster a name that proxy routes use, like name: api")
            return nil
        }
        var endpoints: [Configuration.Upstream.Endpoint] = []
        if let n = m["endpoints"], let items = reader.sequence(n, "\(path).endpoints") {
            for (j, item) in items.enumerated() {
                if let e = endpoint(item, "\(path).endpoints[\(j)]") { endpoints.append(e) }
            }
            if items.isEmpty { reader.error(n, "\(path).endpoints", "is empty; give at least one HOST:PORT") }
        } else if m["endpoints"] == nil {
            reader.error(node, "\(path).endpoints", "missing; give the servers as a list of HOST:PORT, like [10.0.0.1:8080]")
        }
        var u = Configuration.Upstream(name: name, endpoints: endpoints)
        if let n = m["balancing"], let v = balancing(n, "\(path).balancing") { u.balancing = v }
        if let n = m["resolve_interval"], let v = reader.duration(n, "\(path).resolve_interval", range: .seconds(1)...(.seconds(86400))) {
            u.resolveInterval = v
        }
        if let n = m["pool"] { u.pool = pool(n, "\(path).pool") }
        if let n = m["timeouts"] { u.timeouts = timeouts(n, "\(path).timeouts") }
        if let n = m["retries"] { u.retries = retries(n, "\(path).retries") }
        if let n = m["circuit_breaker"] { u.circuitBreaker = breaker(n, "\(path).circuit_breaker") }
        if let n = m["outlier_detection"] { u.outlierDetection = outliers(n, "\(path).outlier_detection") }
        if let n = m["health_check"] { u.healthCheck = healthCheck(n, "\(path).health_check") }
        if let n = m["protocol"], let v = reader.string(n, "\(path).protocol") {
            if ["http1", "http2"].contains(v) { u.httpProtocol = v } else {
                reader.error(n, "\(path).protocol", "'\(v)' is not an upstream protocol; expected http1 or http2")
            }
        }
        if let n = m["tls"], !reader.isNull(n) {
            u.tls = tlsSettings(n, "\(path).tls")
            if let t = u.tls, t.verify, t.serverName == nil, let ip = u.endpoints.first(where: { IPNetwork.parseAddress(Substring($0.host)) != nil }) {
                reader.error(
                    n, "\(path).tls.server_name",
                    "endpoint \(ip.host) is an IP address: give the name its certificate carries (server_name: api.internal), or verify: false"
                )
            }
        }
        if let n = m["max_active"], let v = reader.int(n, "\(path).max_active", range: 1...10_000_000) { u.maxActive = v }
        if let n = m["max_pending"], let v = reader.int(n, "\(path).max_pending", range: 0...10_000_000) { u.maxPending = v }
        return u
    }

    /// `HOST:PORT`, or `{address: HOST:PORT, weight: N}`.
    private func endpoint(_ node: Node, _ path: String) -> Configuration.Upstream.Endpoint? {
        var addressNode = node
        var weight = 1
        if case .mapping = node {
            guard let m = reader.mapping(node, path, allowed: ["address", "weight"]) else { return nil }
            guard let a = m["address"] else {
                reader.error(node, "\(path).address", "missing; give HOST:PORT, like 10.0.0.1:8080")
                return nil
            }
            addressNode = a
            if let n = m["weight"], let v = reader.int(n, "\(path).weight", range: 1...1000) { weight = v }
        }
        guard let text = reader.string(addressNode, path) else { return nil }
        guard let address = Configuration.Address(parsing: text), address.port > 0, !text.hasPrefix(":"),
            Self.isValidHost(address.host)
        else {
            reader.error(addressNode, path, "'\(text)' is not an endpoint; expected HOST:PORT like 10.0.0.1:8080 or api.internal:80")
            return nil
        }
        return Configuration.Upstream.Endpoint(host: address.host, port: address.port, weight: weight)
    }

    static func isValidHost(_ host: String) -> Bool {
        if IPNetwork.parseAddress(Substring(host)) != nil { return true }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty
            && labels.allSatisfy { label in
                !label.isEmpty && label.count <= 63
                    && label.utf8.allSatisfy { b in
                        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x5F
                    }
            }
    }

    /// `round_robin`, or `{policy: ring_hash, hash_on: client_ip | {header: X-User} | {cookie: session}}`.
    private func balancing(_ node: Node, _ path: String) -> Configuration.Upstream.Balancing? {
        let all = Configuration.Upstream.Balancing.policies
        var policyNode = node
        var hashOn: Configuration.Upstream.Balancing.HashOn?
        var hashNode: Node?
        if case .mapping = node {
            guard let m = reader.mapping(node, path, allowed: ["policy", "hash_on"]) else { return nil }
            guard let p = m["policy"] else {
                reader.error(node, "\(path).policy", "missing; give one of: \(all.joined(separator: ", "))")
                return nil
            }
            policyNode = p
            hashNode = m["hash_on"]
            if let h = hashNode { hashOn = self.hashOn(h, "\(path).hash_on") }
        }
        guard let policy = reader.string(policyNode, "\(path).policy")?.lowercased() else { return nil }
        guard all.contains(policy) else {
            let hint = ConfigReader.closest(to: policy, in: all).map { " (did you mean '\($0)'?)" } ?? ""
            reader.error(policyNode, "\(path).policy", "'\(policy)' is not a policy\(hint); expected one of: \(all.joined(separator: ", "))")
            return nil
        }
        let hashing = Configuration.Upstream.Balancing.hashingPolicies.contains(policy)
        if hashing && hashNode == nil { hashOn = .clientIP }
        if !hashing, let hashNode {
            reader.error(hashNode, "\(path).hash_on", "only ring_hash and maglev hash; remove hash_on or change the policy")
        }
        return Configuration.Upstream.Balancing(policy: policy, hashOn: hashOn)
    }

    private func hashOn(_ node: Node, _ path: String) -> Configuration.Upstream.Balancing.HashOn? {
        if case .scalar = node {
            guard let v = reader.string(node, path) else { return nil }
            if v == "client_ip" { return .clientIP }
            reader.error(node, path, "'\(v)' is not a hash key; expected client_ip, {header: NAME} or {cookie: NAME}")
            return nil
        }
        guard let m = reader.mapping(node, path, allowed: ["header", "cookie"]), m.count == 1 else {
            reader.error(node, path, "give one of client_ip, {header: NAME} or {cookie: NAME}")
            return nil
        }
        if let n = m["header"], let v = reader.string(n, "\(path).header") {
            guard HeaderSyntax.isToken(v) else {
                reader.error(n, "\(path).header", "'\(v)' is not a header name")
                return nil
            }
            return .header(v.lowercased())
        }
        if let n = m["cookie"], let v = reader.string(n, "\(path).cookie") {
            guard HeaderSyntax.isToken(v) else {
                reader.error(n, "\(path).cookie", "'\(v)' is not a cookie name")
                return nil
            }
            return .cookie(v)
        }
        return nil
    }

    /// `tls: {server_name, ca, certificate, key, verify}`; `tls: true` (or `{}`) for the defaults.
    func tlsSettings(_ node: Node, _ path: String) -> Configuration.Upstream.UpstreamTLS? {
        if case .scalar = node, let on = reader.bool(node, path) { return on ? .init() : nil }
        guard let m = reader.mapping(node, path, allowed: ["server_name", "ca", "certificate", "key", "verify"]) else { return nil }
        var t = Configuration.Upstream.UpstreamTLS()
        if let n = m["server_name"], let v = reader.string(n, "\(path).server_name") {
            if Self.isValidHost(v) { t.serverName = v } else { reader.error(n, "\(path).server_name", "'\(v)' is not a host name") }
        }
        for (key, set) in [("ca", { (v: String) in t.ca = v }), ("certificate", { t.certificate = $0 }), ("key", { t.key = $0 })] {
            guard let n = m[key], let v = reader.string(n, "\(path).\(key)") else { continue }
            if FileManager.default.isReadableFile(atPath: v) { set(v) } else {
                reader.error(n, "\(path).\(key)", "cannot read '\(v)'; check the path and its permissions")
            }
        }
        if (m["certificate"] == nil) != (m["key"] == nil) {
            reader.error(node, path, "certificate and key go together; give both PEM files for a client certificate")
        }
        if let n = m["verify"], let v = reader.bool(n, "\(path).verify") { t.verify = v }
        return t
    }

    private func pool(_ node: Node, _ path: String) -> Configuration.Upstream.Pool {
        var p = Configuration.Upstream.Pool()
        guard let m = reader.mapping(node, path, allowed: ["max_idle", "idle_timeout", "max_requests_per_connection", "max_connections"])
        else { return p }
        if let n = m["max_idle"], let v = reader.int(n, "\(path).max_idle", range: 0...100_000) { p.maxIdle = v }
        if let n = m["idle_timeout"], let v = reader.duration(n, "\(path).idle_timeout", range: .milliseconds(10)...(.seconds(86400))) {
            p.idleTimeout = v
        }
        if let n = m["max_requests_per_connection"], let v = reader.int(n, "\(path).max_requests_per_connection", range: 1...100_000_000) {
            p.maxRequestsPerConnection = v
        }
        if let n = m["max_connections"], let v = reader.int(n, "\(path).max_connections", range: 1...1_000_000) { p.maxConnections = v }
        return p
    }

    private func timeouts(_ node: Node, _ path: String) -> Configuration.Upstream.UpstreamTimeouts {
        var t = Configuration.Upstream.UpstreamTimeouts()
        guard let m = reader.mapping(node, path, allowed: ["connect", "first_byte", "idle", "total"]) else { return t }
        let range = Duration.milliseconds(1)...Duration.seconds(86400)
        if let n = m["connect"], let v = reader.duration(n, "\(path).connect", range: range) { t.connect = v }
        if let n = m["first_byte"], let v = reader.duration(n, "\(path).first_byte", range: range) { t.firstByte = v }
        if let n = m["idle"], let v = reader.duration(n, "\(path).idle", range: range) { t.idle = v }
        if let n = m["total"], !reader.isNull(n), let v = reader.duration(n, "\(path).total", range: range) { t.total = v }
        return t
    }

    private func retries(_ node: Node, _ path: String) -> Configuration.Upstream.Retries {
        var r = Configuration.Upstream.Retries()
        let keys = ["max", "on", "per_try_timeout", "budget_percent", "min_concurrency", "replay_buffer"]
        guard let m = reader.mapping(node, path, allowed: keys) else { return r }
        if let n = m["max"], let v = reader.int(n, "\(path).max", range: 0...10) { r.max = v }
        if let n = m["on"], let v = reader.strings(n, "\(path).on") {
            r.on = v.map { $0.lowercased() }
            for c in r.on where !Configuration.Upstream.Retries.conditions.contains(c) {
                reader.error(n, "\(path).on", "'\(c)' is not a retry condition; expected any of: \(Configuration.Upstream.Retries.conditions.joined(separator: ", "))")
            }
        }
        if let n = m["per_try_timeout"], !reader.isNull(n),
            let v = reader.duration(n, "\(path).per_try_timeout", range: .milliseconds(1)...(.seconds(86400)))
        {
            r.perTryTimeout = v
        }
        if let n = m["budget_percent"], let v = reader.int(n, "\(path).budget_percent", range: 0...100) { r.budgetPercent = Double(v) }
        if let n = m["min_concurrency"], let v = reader.int(n, "\(path).min_concurrency", range: 0...100_000) { r.minConcurrency = v }
        if let n = m["replay_buffer"], let v = reader.size(n, "\(path).replay_buffer", range: 0...(16 << 20)) { r.replayBuffer = v }
        return r
    }

    private func breaker(_ node: Node, _ path: String) -> Configuration.Upstream.CircuitBreaker {
        var b = Configuration.Upstream.CircuitBreaker()
        let keys = [
            "enabled", "failure_ratio", "minimum_requests", "window", "open_for", "max_open_for", "max_probes", "shared",
            "min_reporting_instances", "min_reporting_share",
        ]
        guard let m = reader.mapping(node, path, allowed: keys) else { return b }
        if let n = m["enabled"], let v = reader.bool(n, "\(path).enabled") { b.enabled = v }
        if let n = m["failure_ratio"], let text = reader.string(n, "\(path).failure_ratio") {
            if let v = Double(text), v > 0, v <= 1 { b.failureRatio = v } else {
                reader.error(n, "\(path).failure_ratio", "'\(text)' is not a ratio; expected a number above 0 and at most 1, like 0.5")
            }
        }
        if let n = m["minimum_requests"], let v = reader.int(n, "\(path).minimum_requests", range: 1...1_000_000) { b.minimumRequests = v }
        let range = Duration.milliseconds(100)...Duration.seconds(86400)
        if let n = m["window"], let v = reader.duration(n, "\(path).window", range: range) { b.window = v }
        if let n = m["open_for"], let v = reader.duration(n, "\(path).open_for", range: range) { b.openFor = v }
        if let n = m["max_open_for"], let v = reader.duration(n, "\(path).max_open_for", range: range) { b.maxOpenFor = v }
        if let n = m["max_probes"], let v = reader.int(n, "\(path).max_probes", range: 1...1000) { b.maxProbes = v }
        if let n = m["shared"], let v = reader.bool(n, "\(path).shared") { b.shared = v }
        if let n = m["min_reporting_instances"], let v = reader.int(n, "\(path).min_reporting_instances", range: 1...10_000) {
            b.minReportingInstances = v
        }
        if let n = m["min_reporting_share"], let text = reader.string(n, "\(path).min_reporting_share") {
            if let v = Double(text), v >= 0, v <= 1 { b.minReportingShare = v } else {
                reader.error(n, "\(path).min_reporting_share", "'\(text)' is not a share; expected a number from 0 to 1, like 0.5 for half the instances")
            }
        }
        if b.maxOpenFor < b.openFor {
            reader.error(node, "\(path).max_open_for", "is shorter than open_for; make it at least \(b.openFor)")
        }
        return b
    }

    private func outliers(_ node: Node, _ path: String) -> Configuration.Upstream.OutlierDetection {
        var o = Configuration.Upstream.OutlierDetection()
        let keys = ["enabled", "consecutive_5xx", "consecutive_gateway_failures", "base_ejection", "max_ejection", "max_ejection_percent"]
        guard let m = reader.mapping(node, path, allowed: keys) else { return o }
        if let n = m["enabled"], let v = reader.bool(n, "\(path).enabled") { o.enabled = v }
        if let n = m["consecutive_5xx"], let v = reader.int(n, "\(path).consecutive_5xx", range: 1...10_000) { o.consecutive5xx = v }
        if let n = m["consecutive_gateway_failures"], let v = reader.int(n, "\(path).consecutive_gateway_failures", range: 1...10_000) {
            o.consecutiveGatewayFailures = v
        }
        let range = Duration.milliseconds(100)...Duration.seconds(86400)
        if let n = m["base_ejection"], let v = reader.duration(n, "\(path).base_ejection", range: range) { o.baseEjection = v }
        if let n = m["max_ejection"], let v = reader.duration(n, "\(path).max_ejection", range: range) { o.maxEjection = v }
        if let n = m["max_ejection_percent"], let v = reader.int(n, "\(path).max_ejection_percent", range: 0...100) { o.maxEjectionPercent = v }
        return o
    }

    private func healthCheck(_ node: Node, _ path: String) -> Configuration.Upstream.HealthCheck? {
        let keys = ["path", "interval", "jitter", "timeout", "expected_statuses", "healthy_threshold", "unhealthy_threshold", "host"]
        guard let m = reader.mapping(node, path, allowed: keys) else { return nil }
        var h = Configuration.Upstream.HealthCheck()
        if let n = m["path"], let v = reader.string(n, "\(path).path") {
            if v.hasPrefix("/") && HeaderSyntax.isValidValue(v) && !v.contains(" ") { h.path = v } else {
                reader.error(n, "\(path).path", "'\(v)' is not a request path; expected one starting with /, like /healthz")
            }
        }
        if let n = m["interval"], let v = reader.duration(n, "\(path).interval", range: .milliseconds(100)...(.seconds(86400))) { h.interval = v }
        if let n = m["jitter"], let v = reader.duration(n, "\(path).jitter", range: .zero...(.seconds(3600))) { h.jitter = v }
        if let n = m["timeout"], let v = reader.duration(n, "\(path).timeout", range: .milliseconds(10)...(.seconds(3600))) { h.timeout = v }
        if let n = m["expected_statuses"], let v = reader.strings(n, "\(path).expected_statuses") {
            var ranges: [ClosedRange<Int>] = []
            for text in v {
                let bounds = text.split(separator: "-", maxSplits: 1).map { Int($0.trimmingSpaces()) }
                if bounds.count == 1, let a = bounds[0], (100...599).contains(a) {
                    ranges.append(a...a)
                } else if bounds.count == 2, let a = bounds[0], let b = bounds[1], 100 <= a, a <= b, b <= 599 {
                    ranges.append(a...b)
                } else {
                    reader.error(n, "\(path).expected_statuses", "'\(text)' is not a status or range; expected like 200 or 200-399")
                }
            }
            if !ranges.isEmpty { h.expectedStatuses = ranges }
        }
        if let n = m["healthy_threshold"], let v = reader.int(n, "\(path).healthy_threshold", range: 1...100) { h.healthyThreshold = v }
        if let n = m["unhealthy_threshold"], let v = reader.int(n, "\(path).unhealthy_threshold", range: 1...100) { h.unhealthyThreshold = v }
        if let n = m["host"], let v = reader.string(n, "\(path).host") {
            if HeaderSyntax.isValidValue(v) && !v.isEmpty { h.host = v } else { reader.error(n, "\(path).host", "is not a host name") }
        }
        if h.timeout >= h.interval {
            reader.error(node, "\(path).timeout", "\(h.timeout) is not shorter than the interval \(h.interval); make it shorter")
        }
        return h
    }
}
