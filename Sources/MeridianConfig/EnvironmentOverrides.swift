/// `MERIDIAN_*` environment variables that override selected keys, as twelve-factor deployments expect.
public enum EnvironmentOverrides {
    /// Each variable with the key it overrides, documented in the README and config/meridian.yaml.
    public static let variables: [(name: String, key: String)] = [
        ("MERIDIAN_LISTEN", "listeners (one listener at HOST:PORT)"),
        ("MERIDIAN_ADMIN", "admin.address"),
        ("MERIDIAN_ROOT", "defaults.root"),
        ("MERIDIAN_EVENT_LOOPS", "server.event_loops"),
        ("MERIDIAN_LOG_LEVEL", "logging.level"),
        ("MERIDIAN_LOG_FORMAT", "logging.format"),
        ("MERIDIAN_MAX_CONNECTIONS", "limits.max_connections"),
        ("MERIDIAN_DRAIN_DELAY", "lifecycle.drain_delay"),
        ("MERIDIAN_SHUTDOWN_TIMEOUT", "lifecycle.shutdown_timeout"),
        ("MERIDIAN_ACCESS_LOG", "telemetry.access_log (off, stdout, stderr or a file path)"),
        ("MERIDIAN_REDIS_URL", "redis.url (redis://[user:password@]host:port[/db], rediss:// for TLS, or off)"),
    ]

    public static func apply(_ environment: [String: String], to config: inout Configuration) throws(ConfigError) {
        var problems: [ConfigDiagnostic] = []
        func fail(_ name: String, _ message: String) {
            problems.append(ConfigDiagnostic(source: "env \(name)", line: 0, column: 0, path: "", message: message))
        }
        if let v = environment["MERIDIAN_LISTEN"] {
            if let address = Configuration.Address(parsing: v) {
                let name = config.listeners.first?.name ?? "http"
                var listener = config.listeners.first ?? Configuration.Listener()
                listener.name = name
                listener.address = address
                config.listeners = [listener]
            } else {
                fail("MERIDIAN_LISTEN", "'\(v)' is not an address; expected HOST:PORT like 0.0.0.0:8080")
            }
        }
        if let v = environment["MERIDIAN_ADMIN"] {
            if v == "off" {
                config.admin.address = nil
            } else if let address = Configuration.Address(parsing: v) {
                config.admin.address = address
            } else {
                fail("MERIDIAN_ADMIN", "'\(v)' is not an address; expected HOST:PORT like 127.0.0.1:9901, or off")
            }
        }
        if let v = environment["MERIDIAN_REDIS_URL"] {
            if v == "off" || v.isEmpty {
                config.redis = nil
            } else {
                switch Configuration.Redis.parse(url: v) {
                case .success(let parsed):
                    // The address and credentials come from the URL; timeouts, pool and prefix stay as configured.
                    var redis = config.redis ?? parsed
                    redis.nodes = parsed.nodes
                    redis.cluster = false
                    redis.username = parsed.username
                    redis.password = parsed.password
                    redis.database = parsed.database
                    if parsed.tls != nil, redis.tls == nil { redis.tls = parsed.tls }
                    if parsed.tls == nil { redis.tls = nil }
                    config.redis = redis
                case .failure(let e):
                    fail("MERIDIAN_REDIS_URL", e.message)
                }
            }
        }
        if let v = environment["MERIDIAN_ROOT"] {
            if v.isEmpty { fail("MERIDIAN_ROOT", "is empty; give a directory") } else { config.defaults.root = v }
        }
        if let v = environment["MERIDIAN_EVENT_LOOPS"] {
            if let n = Int(v), (0...256).contains(n) {
                config.server.eventLoops = n
            } else {
                fail("MERIDIAN_EVENT_LOOPS", "'\(v)' is not a number of event loops; expected 0...256 (0 = one per core)")
            }
        }
        if let v = environment["MERIDIAN_LOG_LEVEL"] {
            if let level = Configuration.Logging.Level(rawValue: v.lowercased()) {
                config.logging.level = level
            } else {
                let all = Configuration.Logging.Level.allCases.map(\.rawValue).joined(separator: ", ")
                fail("MERIDIAN_LOG_LEVEL", "'\(v)' is not a level; expected one of: \(all)")
            }
        }
        if let v = environment["MERIDIAN_LOG_FORMAT"] {
            if let format = Configuration.Logging.Format(rawValue: v.lowercased()) {
                config.logging.format = format
            } else {
                fail("MERIDIAN_LOG_FORMAT", "'\(v)' is not a format; expected json or text")
            }
        }
        if let v = environment["MERIDIAN_MAX_CONNECTIONS"] {
            if let n = Int(v), (1...1_000_000).contains(n) {
                config.limits.maxConnections = n
            } else {
                fail("MERIDIAN_MAX_CONNECTIONS", "'\(v)' is not a connection count; expected 1...1000000")
            }
        }
        for (name, apply) in [
            ("MERIDIAN_DRAIN_DELAY", { (d: Duration, c: inout Configuration) in c.lifecycle.drainDelay = d }),
            ("MERIDIAN_SHUTDOWN_TIMEOUT", { (d: Duration, c: inout Configuration) in c.lifecycle.shutdownTimeout = d }),
        ] {
            guard let v = environment[name] else { continue }
            if let d = ConfigUnits.parseDuration(v), d <= .seconds(3600) {
                apply(d, &config)
            } else {
                fail(name, "'\(v)' is not a duration; expected a value like 5s or 500ms, at most 1h")
            }
        }
        if let v = environment["MERIDIAN_ACCESS_LOG"] {
            if v.isEmpty {
                fail("MERIDIAN_ACCESS_LOG", "is empty; expected off, stdout, stderr or a file path")
            } else if v.lowercased() == "off" {
                config.telemetry.accessLog.enabled = false
            } else {
                config.telemetry.accessLog.enabled = true
                config.telemetry.accessLog.path = v
            }
        }
        if !problems.isEmpty { throw ConfigError(problems) }
    }
}
