internal import Yams

/// The `redis:` section.
struct RedisDecoder {
    let reader: ConfigReader

    func redis(_ node: Node) -> Configuration.Redis? {
        let path = "redis"
        let keys = ["url", "cluster", "username", "password", "database", "tls", "timeouts", "pool", "key_prefix"]
        guard let m = reader.mapping(node, path, allowed: keys) else { return nil }
        var r: Configuration.Redis
        switch (m["url"], m["cluster"]) {
        case (let n?, nil):
            guard let text = reader.string(n, "\(path).url") else { return nil }
            switch Configuration.Redis.parse(url: text) {
            case .success(let parsed): r = parsed
            case .failure(let e):
                reader.error(n, "\(path).url", e.message)
                return nil
            }
        case (nil, let n?):
            guard let items = reader.sequence(n, "\(path).cluster") else { return nil }
            var nodes: [Configuration.Address] = []
            for (i, item) in items.enumerated() {
                guard let text = reader.string(item, "\(path).cluster[\(i)]") else { continue }
                if let a = Configuration.Address(parsing: text) { nodes.append(a) } else {
                    reader.error(item, "\(path).cluster[\(i)]", "'\(text)' is not HOST:PORT; give a seed node like 10.0.0.1:6379")
                }
            }
            if items.isEmpty { reader.error(n, "\(path).cluster", "is empty; give the seed nodes as HOST:PORT") }
            r = Configuration.Redis(nodes: nodes, cluster: true)
        case (_?, _?):
            reader.error(node, path, "has both url and cluster; give url for one server or cluster for the seed nodes of a Redis Cluster")
            return nil
        case (nil, nil):
            reader.error(node, "\(path).url", "missing; give url: redis://HOST:PORT (or cluster: [HOST:PORT, ...]), or set MERIDIAN_REDIS_URL")
            return nil
        }
        if let n = m["username"], let v = reader.string(n, "\(path).username") { r.username = v }
        if let n = m["password"], let v = reader.string(n, "\(path).password") { r.password = v }
        if let n = m["database"], let v = reader.int(n, "\(path).database", range: 0...9999) {
            if r.cluster, v != 0 { reader.error(n, "\(path).database", "a Redis Cluster has database 0 only; remove database") }
            r.database = v
        }
        if let n = m["tls"], !reader.isNull(n) { r.tls = UpstreamDecoder(reader: reader).tlsSettings(n, "\(path).tls") }
        if let n = m["timeouts"], let t = reader.mapping(n, "\(path).timeouts", allowed: ["connect", "command", "request"]) {
            if let n = t["connect"], let v = reader.duration(n, "\(path).timeouts.connect", range: .milliseconds(10)...(.seconds(60))) {
                r.connectTimeout = v
            }
            if let n = t["command"], let v = reader.duration(n, "\(path).timeouts.command", range: .milliseconds(1)...(.seconds(60))) {
                r.commandTimeout = v
            }
            if let n = t["request"], let v = reader.duration(n, "\(path).timeouts.request", range: .milliseconds(1)...(.seconds(5))) {
                r.requestBudget = v
            }
        }
        if let n = m["pool"], let p = reader.mapping(n, "\(path).pool", allowed: ["connections_per_loop"]) {
            if let n = p["connections_per_loop"], let v = reader.int(n, "\(path).pool.connections_per_loop", range: 1...64) {
                r.connectionsPerLoop = v
            }
        }
        if let n = m["key_prefix"], let v = reader.string(n, "\(path).key_prefix") {
            if v.isEmpty || v.contains(where: { $0 == "{" || $0 == "}" || $0 == " " }) {
                reader.error(n, "\(path).key_prefix", "'\(v)' cannot prefix keys; use letters, digits, ':' or '-' (no braces or spaces)")
            } else {
                r.keyPrefix = v
            }
        }
        return r
    }
}
