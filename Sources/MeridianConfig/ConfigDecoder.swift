internal import Yams

/// Turns the YAML tree into the typed model; each section is one method, each unknown key an error.
struct ConfigDecoder {
    let reader: ConfigReader

    func decode(_ root: Node, into config: inout Configuration) {
        guard
            let top = reader.mapping(
                root, "",
                allowed: ["listeners", "admin", "server", "limits", "timeouts", "lifecycle", "logging", "telemetry", "defaults", "hosts", "upstreams", "redis", "compression", "cache", "channels", "auth", "brute_force"]
            )
        else { return }
        if let node = top["listeners"] { config.listeners = listeners(node) }
        if let node = top["admin"] { config.admin = admin(node) }
        if let node = top["server"] { config.server = server(node) }
        if let node = top["limits"] { config.limits = limits(node) }
        if let node = top["timeouts"] { config.timeouts = timeouts(node) }
        if let node = top["lifecycle"] { config.lifecycle = lifecycle(node) }
        if let node = top["logging"] { config.logging = logging(node) }
        if let node = top["telemetry"] { config.telemetry = TelemetryDecoder(reader: reader).telemetry(node) }
        if let node = top["defaults"] { config.defaults = defaults(node) }
        if let node = top["redis"], !reader.isNull(node) { config.redis = RedisDecoder(reader: reader).redis(node) }
        if let node = top["upstreams"] { config.upstreams = UpstreamDecoder(reader: reader).upstreams(node) }
        if let node = top["compression"] {
            config.compression = CompressionDecoder(reader: reader).compression(node, "compression", base: Configuration.Compression(enabled: true))
            reader.compressionDefault = config.compression
        }
        if let node = top["cache"], !reader.isNull(node) { config.cache = CacheDecoder(reader: reader).stores(node) }
        if let node = top["channels"] { config.channels = ChannelDecoder(reader: reader).channels(node) }
        if let node = top["auth"] { config.auth = SecurityDecoder(reader: reader).authenticators(node) }
        if let node = top["brute_force"], !reader.isNull(node) { config.bruteForce = AuthDecoder(reader: reader).bruteForce(node) }
        if let node = top["hosts"] {
            config.hosts = hosts(node, upstreamNames: Set(config.upstreams.map(\.name)), authNames: Set(config.auth.map(\.name)))
        }
    }

    private func listeners(_ node: Node) -> [Configuration.Listener] {
        guard let items = reader.sequence(node, "listeners") else { return [] }
        var result: [Configuration.Listener] = []
        for (i, item) in items.enumerated() {
            let path = "listeners[\(i)]"
            guard
                let m = reader.mapping(
                    item, path, allowed: ["name", "address", "reuse_port", "backlog", "sendfile", "tls", "http2", "redirect", "access"]
                )
            else { continue }
            var listener = Configuration.Listener(name: "listener\(i)")
            if let n = m["name"], let v = reader.string(n, "\(path).name") { listener.name = v }
            if let n = m["address"] {
                if let v = reader.address(n, "\(path).address") { listener.address = v }
            } else {
                reader.error(item, "\(path).address", "missing; give the address to listen on, like 0.0.0.0:8080")
            }
            if let n = m["reuse_port"], let v = reader.bool(n, "\(path).reuse_port") { listener.reusePort = v }
            if let n = m["backlog"], let v = reader.int(n, "\(path).backlog", range: 1...65535) { listener.backlog = v }
            if let n = m["sendfile"], let v = reader.bool(n, "\(path).sendfile") { listener.sendfile = v }
            if let n = m["tls"] { listener.tls = ListenerDecoder(reader: reader).tls(n, "\(path).tls") }
            if let n = m["http2"] { listener.http2 = ListenerDecoder(reader: reader).http2(n, "\(path).http2") }
            if let n = m["access"], !reader.isNull(n) { listener.access = SecurityDecoder(reader: reader).access(n, "\(path).access") }
            if let n = m["redirect"], let v = reader.string(n, "\(path).redirect") {
                if HeaderSyntax.isValidValue(v) { listener.redirect = v } else {
                    reader.error(n, "\(path).redirect", "holds a control character; remove it")
                }
            }
            result.append(listener)
        }
        return result
    }

    private func admin(_ node: Node) -> Configuration.Admin {
        var admin = Configuration.Admin()
        guard let m = reader.mapping(node, "admin", allowed: ["address", "enabled"]) else { return admin }
        if let n = m["address"], let v = reader.address(n, "admin.address") { admin.address = v }
        if let n = m["enabled"], let v = reader.bool(n, "admin.enabled"), !v { admin.address = nil }
        return admin
    }

    private func server(_ node: Node) -> Configuration.Server {
        var server = Configuration.Server()
        guard let m = reader.mapping(node, "server", allowed: ["event_loops", "server_header", "trusted_proxies"]) else { return server }
        if let n = m["trusted_proxies"], let v = reader.strings(n, "server.trusted_proxies") {
            for (i, text) in v.enumerated() {
                if IPNetwork(parsing: text) == nil {
                    reader.error(n, "server.trusted_proxies[\(i)]", "'\(text)' is not an address or CIDR; expected like 10.0.0.0/8 or fd00::/8")
                } else {
                    server.trustedProxies.append(text)
                }
            }
        }
        if let n = m["event_loops"], let v = reader.int(n, "server.event_loops", range: 0...256) { server.eventLoops = v }
        if let n = m["server_header"], let v = reader.string(n, "server.server_header") {
            if HeaderSyntax.isValidValue(v) {
                server.serverHeader = v
            } else {
                reader.error(n, "server.server_header", "holds a control character; remove it")
            }
        }
        return server
    }

    private func limits(_ node: Node) -> Configuration.Limits {
        var limits = Configuration.Limits()
        let keys = [
            "max_connections", "max_request_line", "max_header_bytes", "max_header_count", "max_body_bytes",
            "max_requests_per_connection",
        ]
        guard let m = reader.mapping(node, "limits", allowed: keys) else { return limits }
        if let n = m["max_connections"], let v = reader.int(n, "limits.max_connections", range: 1...1_000_000) {
            limits.maxConnections = v
        }
        if let n = m["max_request_line"], let v = reader.size(n, "limits.max_request_line", range: 64...(1 << 20)) {
            limits.maxRequestLine = v
        }
        if let n = m["max_header_bytes"], let v = reader.size(n, "limits.max_header_bytes", range: 256...(1 << 24)) {
            limits.maxHeaderBytes = v
        }
        if let n = m["max_header_count"], let v = reader.int(n, "limits.max_header_count", range: 1...10_000) {
            limits.maxHeaderCount = v
        }
        if let n = m["max_body_bytes"], let v = reader.size(n, "limits.max_body_bytes", range: 0...(1 << 40)) {
            limits.maxBodyBytes = v
        }
        if let n = m["max_requests_per_connection"],
            let v = reader.int(n, "limits.max_requests_per_connection", range: 1...100_000_000)
        {
            limits.maxRequestsPerConnection = v
        }
        return limits
    }

    private func timeouts(_ node: Node) -> Configuration.Timeouts {
        var t = Configuration.Timeouts()
        guard let m = reader.mapping(node, "timeouts", allowed: ["header_read", "idle", "body_read", "send"]) else {
            return t
        }
        let range = Duration.milliseconds(10)...Duration.seconds(86400)
        if let n = m["header_read"], let v = reader.duration(n, "timeouts.header_read", range: range) { t.headerRead = v }
        if let n = m["idle"], let v = reader.duration(n, "timeouts.idle", range: range) { t.idle = v }
        if let n = m["body_read"], let v = reader.duration(n, "timeouts.body_read", range: range) { t.bodyRead = v }
        if let n = m["send"], let v = reader.duration(n, "timeouts.send", range: range) { t.send = v }
        return t
    }

    private func lifecycle(_ node: Node) -> Configuration.Lifecycle {
        var l = Configuration.Lifecycle()
        guard
            let m = reader.mapping(
                node, "lifecycle", allowed: ["drain_delay", "shutdown_timeout", "interrupt_timeout"]
            )
        else { return l }
        let range = Duration.zero...Duration.seconds(3600)
        if let n = m["drain_delay"], let v = reader.duration(n, "lifecycle.drain_delay", range: range) { l.drainDelay = v }
        if let n = m["shutdown_timeout"], let v = reader.duration(n, "lifecycle.shutdown_timeout", range: range) {
            l.shutdownTimeout = v
        }
        if let n = m["interrupt_timeout"], let v = reader.duration(n, "lifecycle.interrupt_timeout", range: range) {
            l.interruptTimeout = v
        }
        return l
    }

    private func logging(_ node: Node) -> Configuration.Logging {
        var l = Configuration.Logging()
        guard let m = reader.mapping(node, "logging", allowed: ["level", "format"]) else { return l }
        if let n = m["level"], let v = reader.choice(n, "logging.level", as: Configuration.Logging.Level.self) {
            l.level = v
        }
        if let n = m["format"], let v = reader.choice(n, "logging.format", as: Configuration.Logging.Format.self) {
            l.format = v
        }
        return l
    }

    private func defaults(_ node: Node) -> Configuration.Defaults {
        var d = Configuration.Defaults()
        guard let m = reader.mapping(node, "defaults", allowed: ["root"]) else { return d }
        if let n = m["root"], let v = reader.string(n, "defaults.root") { d.root = v }
        return d
    }

    private func hosts(_ node: Node, upstreamNames: Set<String>, authNames: Set<String>) -> [Configuration.Host] {
        guard let items = reader.sequence(node, "hosts") else { return [] }
        var result: [Configuration.Host] = []
        for (i, item) in items.enumerated() {
            let path = "hosts[\(i)]"
            guard let m = reader.mapping(item, path, allowed: ["names", "default", "routes"]) else { continue }
            var host = Configuration.Host()
            if let n = m["names"], let v = reader.strings(n, "\(path).names") {
                host.names = v.map { $0.lowercased() }
                for (j, name) in host.names.enumerated() where !Self.isValidServerName(name) {
                    reader.error(n, "\(path).names[\(j)]", "'\(name)' is not a host name; expected example.com or *.example.com")
                }
            }
            if let n = m["default"], let v = reader.bool(n, "\(path).default") { host.isDefault = v }
            if let n = m["routes"], let routeNodes = reader.sequence(n, "\(path).routes") {
                for (j, routeNode) in routeNodes.enumerated() {
                    if let route = RouteDecoder(reader: reader, upstreamNames: upstreamNames, authNames: authNames).route(routeNode, "\(path).routes[\(j)]") {
                        host.routes.append(route)
                    }
                }
            } else {
                reader.error(item, "\(path).routes", "missing; a host needs at least one route")
            }
            result.append(host)
        }
        return result
    }

    static func isValidServerName(_ name: String) -> Bool {
        var labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if labels.first == "*" { labels.removeFirst() }
        guard !labels.isEmpty else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63
                && label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
        }
    }
}
