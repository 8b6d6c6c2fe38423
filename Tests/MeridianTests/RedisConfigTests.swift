import Foundation
import MeridianConfig
import Testing

/// The `redis:` section, `MERIDIAN_REDIS_URL`, the shared-breaker keys and `rate_limit:` on routes: what they
/// decode to, and an error with file:line and what to change for each mistake.
@Suite struct RedisConfigTests {
    static let route = """
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                respond: {status: 200}
        """

    @Test func aURLDecodesWithCredentialsDatabaseAndTLS() throws {
        let c = try ConfigLoader.parse(
            yaml: """
                redis:
                  url: "rediss://meridian:p%40ss@redis.internal:6380/2"
                  tls: {ca: /etc/hostname, server_name: redis.internal}
                  timeouts: {connect: 2s, command: 100ms, request: 3ms}
                  pool: {connections_per_loop: 2}
                  key_prefix: edge-eu
                """ + "\n" + Self.route, source: "t.yaml")
        let r = try #require(c.redis)
        #expect(r.nodes == [.init(host: "redis.internal", port: 6380)])
        #expect(r.username == "meridian" && r.password == "p@ss" && r.database == 2)
        #expect(r.tls?.serverName == "redis.internal" && r.tls?.ca == "/etc/hostname")
        #expect(r.connectTimeout == .seconds(2) && r.commandTimeout == .milliseconds(100) && r.requestBudget == .milliseconds(3))
        #expect(r.connectionsPerLoop == 2 && r.keyPrefix == "edge-eu" && !r.cluster)
        let plain = try #require(try ConfigLoader.parse(yaml: "redis: {url: \"redis://10.0.0.5\"}\n" + Self.route, source: "t.yaml").redis)
        #expect(plain.nodes == [.init(host: "10.0.0.5", port: 6379)] && plain.tls == nil && plain.password == nil)
        let v6 = try Configuration.Redis.parse(url: "redis://:only-pass@[::1]:7000").get()
        #expect(v6.nodes == [.init(host: "::1", port: 7000)] && v6.password == "only-pass" && v6.username == nil)
        #expect(Configuration.Redis.redacted("redis://u:secret@h:1") == "redis://u:***@h:1")
    }

    @Test func aClusterDecodesItsSeeds() throws {
        let c = try ConfigLoader.parse(yaml: "redis: {cluster: [\"10.0.0.1:7000\", \"10.0.0.2:7000\"], password: x}\n" + Self.route, source: "t.yaml")
        #expect(c.redis?.cluster == true && c.redis?.nodes.count == 2 && c.redis?.password == "x")
    }

    @Test func theEnvironmentURLReplacesTheAddressAndKeepsTheRest() throws {
        var c = try ConfigLoader.parse(yaml: "redis: {url: \"redis://a:1\", timeouts: {request: 2ms}}\n" + Self.route, source: "t.yaml")
        try EnvironmentOverrides.apply(["MERIDIAN_REDIS_URL": "redis://b:2/3"], to: &c)
        #expect(c.redis?.nodes == [.init(host: "b", port: 2)] && c.redis?.database == 3 && c.redis?.requestBudget == .milliseconds(2))
        var none = try ConfigLoader.parse(yaml: Self.route, source: "t.yaml")
        #expect(none.redis == nil)
        try EnvironmentOverrides.apply(["MERIDIAN_REDIS_URL": "redis://c:4"], to: &none)
        #expect(none.redis?.nodes == [.init(host: "c", port: 4)])
        try EnvironmentOverrides.apply(["MERIDIAN_REDIS_URL": "off"], to: &none)
        #expect(none.redis == nil)
        #expect(throws: ConfigError.self) { try EnvironmentOverrides.apply(["MERIDIAN_REDIS_URL": "http://x"], to: &none) }
    }

    @Test func redisMistakesAreClearErrors() {
        let cases: [(String, String)] = [
            ("redis: {}", "redis.url: missing; give url: redis://HOST:PORT"),
            ("redis: {url: \"http://x:1\"}", "is not a Redis URL"),
            ("redis: {url: \"redis://x:99999\"}", "is not a port"),
            ("redis: {url: \"redis://x/abc\"}", "is not a database number"),
            ("redis: {url: \"redis://x\", cluster: [\"a:1\"]}", "has both url and cluster"),
            ("redis: {cluster: [nonsense]}", "is not HOST:PORT"),
            ("redis: {cluster: [\"a:1\"], database: 2}", "a Redis Cluster has database 0 only"),
            ("redis: {url: \"redis://x\", key_prefix: \"a{b}\"}", "cannot prefix keys"),
            ("redis: {url: \"redis://x\", timeouts: {request: 10s}}", "redis.timeouts.request"),
            ("redis: {url: \"redis://x\", pool: {connections_per_loop: 0}}", "redis.pool.connections_per_loop"),
            ("redis: {url: \"redis://x\", sentinel: true}", "sentinel"),
        ]
        for (yaml, expected) in cases {
            let errors = configErrors(yaml + "\n" + Self.route)
            #expect(errors.count == 1 && errors[0].contains(expected) && errors[0].hasPrefix("test.yaml:1:"), "\(yaml) -> \(errors)")
        }
    }

    @Test func sharedBreakerKeysDecode() throws {
        let c = try ConfigLoader.parse(
            yaml: """
                upstreams:
                  - name: api
                    endpoints: [10.0.0.1:80]
                    circuit_breaker: {shared: false, min_reporting_instances: 3, min_reporting_share: 0.5}
                """ + "\n" + Self.route, source: "t.yaml")
        let b = try #require(c.upstreams.first?.circuitBreaker)
        #expect(!b.shared && b.minReportingInstances == 3 && b.minReportingShare == 0.5)
        #expect(configErrors("upstreams: [{name: a, endpoints: [\"h:1\"], circuit_breaker: {min_reporting_share: 2}}]\n" + Self.route)
            .contains { $0.contains("is not a share") })
    }

    static func limited(_ limit: String, path: String = "/") -> String {
        """
        hosts:
          - default: true
            routes:
              - name: api
                match: {path: \(path)}
                rate_limit: \(limit)
                respond: {status: 200}
        """
    }

    @Test func aRateLimitDecodes() throws {
        let c = try ConfigLoader.parse(
            yaml: Self.limited("{rate: 100, per: 1m, burst: 20, key: \"header:X-Api-Key\", scope: global, mode: exact}"), source: "t.yaml")
        let l = try #require(c.hosts.first?.routes.first?.rateLimit)
        #expect(l.name == "api" && l.rate == 100 && l.per == .seconds(60) && l.burst == 20)
        #expect(l.key == .header("x-api-key") && l.scope == .global && l.mode == .exact)
        let d = try #require(try ConfigLoader.parse(yaml: Self.limited("{rate: 500}"), source: "t.yaml").hosts.first?.routes.first?.rateLimit)
        #expect(d.burst == 500 && d.per == .seconds(1) && d.key == .clientIP && d.scope == .local && d.batch == 10)
    }

    @Test func rateLimitMistakesAreClearErrors() {
        let cases: [(String, String, String)] = [
            ("{per: 1s}", "/", "rate_limit.rate: missing"),
            ("{rate: 0}", "/", "rate_limit.rate"),
            ("{rate: 5, key: ip}", "/", "is not a limit key; expected client_ip, route, header:NAME, cookie:NAME or param:NAME"),
            ("{rate: 5, key: \"param:tenant\"}", "/", "has no :tenant parameter"),
            ("{rate: 5, mode: exact}", "/", "applies to scope: global only"),
            ("{rate: 5, scope: everywhere}", "/", "rate_limit.scope"),
            ("{rate: 5, scope: global, batch: 10}", "/", "larger than burst 5"),
            ("{rate: 5, name: \"bad\\nname\"}", "/", "cannot name a policy"),
            ("{rate: 5, per: forever}", "/", "rate_limit.per"),
        ]
        for (limit, path, expected) in cases {
            let errors = configErrors(Self.limited(limit, path: path))
            #expect(errors.count == 1 && errors[0].contains(expected) && errors[0].hasPrefix("test.yaml:6:"), "\(limit) -> \(errors)")
        }
        #expect(configErrors(Self.limited("{rate: 5, key: \"param:tenant\"}", path: "/t/:tenant/x")).isEmpty)
        // Two routes may share a policy (one bucket) only with the same settings.
        let twice = """
            hosts:
              - default: true
                routes:
                  - match: {prefix: /a/}
                    rate_limit: {name: shared, rate: 5}
                    respond: {status: 200}
                  - match: {prefix: /b/}
                    rate_limit: {name: shared, rate: 5}
                    respond: {status: 200}
                  - match: {prefix: /c/}
                    rate_limit: {name: shared, rate: 6}
                    respond: {status: 200}
                  - match: {prefix: /d/}
                    rate_limit: {rate: 6}
                    respond: {status: 200}
            """
        let errors = configErrors(twice)
        #expect(errors.count == 1 && errors[0].hasPrefix("test.yaml:11:") && errors[0].contains("'shared' names another route's rate limit"), "\(errors)")
        let unnamed = try? ConfigLoader.parse(yaml: twice.replacingOccurrences(of: "name: shared, rate: 6", with: "name: other, rate: 6"), source: "t.yaml")
        #expect(unnamed?.hosts[0].routes[3].rateLimit?.name == "/d/")
    }

    @Test func compressionDecodesAtTheTopAndPerRoute() throws {
        let c = try ConfigLoader.parse(
            yaml: """
                compression: {encodings: [gzip], gzip_level: 4, min_length: 1k}
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /a/}
                        compression: {brotli_level: 4, encodings: [br, gzip]}
                        respond: {status: 200}
                      - match: {prefix: /b/}
                        compression: off
                        respond: {status: 200}
                      - match: {prefix: /}
                        respond: {status: 200}
                """, source: "t.yaml")
        #expect(c.compression.enabled && c.compression.encodings == ["gzip"] && c.compression.gzipLevel == 4 && c.compression.minLength == 1024)
        let routes = c.hosts[0].routes
        #expect(routes[0].compression?.encodings == ["br", "gzip"] && routes[0].compression?.gzipLevel == 4 && routes[0].compression?.brotliLevel == 4)
        #expect(routes[1].compression?.enabled == false)
        #expect(routes[2].compression == nil)
        #expect(try ConfigLoader.parse(yaml: Self.route, source: "t.yaml").compression.enabled == false)
    }

    @Test func compressionMistakesAreClearErrors() {
        let cases: [(String, String)] = [
            ("compression: {encodings: [deflate]}", "'deflate' is not an encoding here; expected any of: br, gzip"),
            ("compression: {encodings: []}", "is empty"),
            ("compression: {gzip_level: 0}", "compression.gzip_level"),
            ("compression: {brotli_level: 12}", "compression.brotli_level"),
            ("compression: {types: [texthtml]}", "'texthtml' is not a media type"),
            ("compression: {level: 5}", "level"),
        ]
        for (yaml, expected) in cases {
            let errors = configErrors(yaml + "\n" + Self.route)
            #expect(errors.count == 1 && errors[0].contains(expected) && errors[0].hasPrefix("test.yaml:1:"), "\(yaml) -> \(errors)")
        }
    }
}
