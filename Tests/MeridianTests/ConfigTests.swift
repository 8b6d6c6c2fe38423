import Foundation
import MeridianConfig
import Testing

@Suite struct ConfigTests {
    func parse(_ yaml: String) throws(ConfigError) -> Configuration {
        try ConfigLoader.parse(yaml: yaml, source: "test.yaml")
    }

    func errors(_ yaml: String) -> [String] { configErrors(yaml) }

    @Test func emptyFileGivesSafeDefaults() throws {
        let c = try parse("")
        #expect(c.listeners[0].address.description == "0.0.0.0:8080")
        #expect(c.admin.address?.description == "127.0.0.1:9901")
        #expect(c.defaults.root == "./public")
        #expect(c.limits.maxHeaderBytes == 32 * 1024)
        #expect(c.timeouts.headerRead == .seconds(10))
    }

    @Test func theReferenceConfigIsValid() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config/meridian.yaml")
        let c = try ConfigLoader.load(file: url.path, environment: [:])
        #expect(!c.hosts.isEmpty)
    }

    @Test func fullConfigDecodes() throws {
        let c = try parse(
            """
            listeners:
              - name: web
                address: "[::1]:8443"
                reuse_port: false
                sendfile: false
            admin: {address: 127.0.0.1:9000}
            server: {event_loops: 3, server_header: ""}
            limits: {max_body_bytes: 2MiB, max_header_bytes: 16k, max_connections: 50}
            timeouts: {header_read: 500ms, idle: 2m}
            lifecycle: {drain_delay: 0, shutdown_timeout: 1h}
            logging: {level: DEBUG, format: text}
            hosts:
              - names: [example.com, "*.example.com"]
                routes:
                  - name: api
                    match: {path: /users/:id, methods: [get, post], headers: {x-beta: "1", x-any: ~}}
                    respond: {status: 201, body: made, headers: {X-A: b}}
                    headers: {Cache-Control: no-store}
                  - match: {regex: "^/old/(.*)$"}
                    redirect: {to: "/new/$1", status: 308}
              - default: true
                routes:
                  - match: {prefix: /}
                    static: {root: /srv, try_files: [$uri, /index.html], precompressed: [gzip], cache_control: "max-age=60"}
            """)
        #expect(c.listeners[0].address == .init(host: "::1", port: 8443))
        #expect(!c.listeners[0].reusePort && !c.listeners[0].sendfile)
        #expect(c.server.eventLoops == 3 && c.server.serverHeader == "")
        #expect(c.limits.maxBodyBytes == 2 << 20 && c.limits.maxHeaderBytes == 16 << 10)
        #expect(c.timeouts.headerRead == .milliseconds(500) && c.timeouts.idle == .seconds(120))
        #expect(c.lifecycle.drainDelay == .zero)
        #expect(c.logging.level == .debug && c.logging.format == .text)
        let route = c.hosts[0].routes[0]
        #expect(route.match.path == .pattern("/users/:id"))
        #expect(route.match.methods == ["GET", "POST"])
        #expect(route.match.headers == [.init(name: "x-beta", value: "1"), .init(name: "x-any", value: nil)])
        #expect(c.hosts[0].routes[1].action == .redirect(.init(to: "/new/$1", status: 308)))
        guard case .static(let s) = c.hosts[1].routes[0].action else { Issue.record("not static"); return }
        #expect(s.root == "/srv" && s.tryFiles == ["$uri", "/index.html"] && s.precompressed == ["gzip"])
    }

    @Test func tlsAndHTTP2Decode() throws {
        let c = try parse(
            """
            listeners:
              - name: https
                address: 127.0.0.1:8443
                tls:
                  certificates:
                    - {cert: /dev/null, key: /dev/null, names: [a.test, "*.b.test"]}
                  unknown_sni: reject
                  min_version: "1.3"
                  client_auth: {ca: /dev/null, required: false}
                  reload_interval: 250ms
                  hsts: max-age=60
                http2: {max_concurrent_streams: 10, max_frame_size: 32k, max_resets_per_30s: 7}
              - {name: plain, address: 127.0.0.1:8080, redirect: "https://$host$request_uri"}
            """)
        let tls = try #require(c.listeners[0].tls)
        #expect(tls.certificates == [.init(cert: "/dev/null", key: "/dev/null", names: ["a.test", "*.b.test"])])
        #expect(tls.unknownServerName == .reject && tls.minimumVersion == .tls13 && tls.reloadInterval == .milliseconds(250))
        #expect(tls.clientAuth == .init(ca: "/dev/null", required: false) && tls.hsts == "max-age=60")
        #expect(c.listeners[0].http2.maxConcurrentStreams == 10 && c.listeners[0].http2.maxFrameSize == 32768)
        #expect(c.listeners[0].http2.maxResetsPerWindow == 7)
        #expect(c.listeners[1].redirect == "https://$host$request_uri")
        let e = errors("listeners: [{address: ':1', tls: {certificates: [{cert: /nonexistent.pem, key: /dev/null}], min_version: '1.0'}, http2: {max_frame_size: 100}}]")
        #expect(e.contains { $0.contains("listeners[0].tls.certificates[0].cert: cannot read '/nonexistent.pem'") })
        #expect(e.contains { $0.contains("listeners[0].tls.min_version: TLS 1.0 is offered only with profile: old") })
        #expect(e.contains { $0.contains("listeners[0].http2.max_frame_size: 100 is out of range") })
    }

    @Test func unknownKeysAreErrorsWithLineColumnAndSuggestion() {
        let e = errors(
            """
            limits:
              max_conections: 5
            timeouts: {idel: 5s}
            """)
        #expect(e.count == 2)
        #expect(e[0].hasPrefix("test.yaml:2:3: limits.max_conections: unknown key (did you mean 'max_connections'?)"))
        #expect(e[1].hasPrefix("test.yaml:3:12: timeouts.idel: unknown key (did you mean 'idle'?)"))
    }

    @Test(arguments: [
        ("limits: {max_header_count: 0}", "test.yaml:1:28: limits.max_header_count: 0 is out of range; expected 1...10000"),
        ("limits: {max_body_bytes: lots}", "test.yaml:1:26: limits.max_body_bytes: 'lots' is not a size"),
        ("timeouts: {idle: soon}", "test.yaml:1:18: timeouts.idle: 'soon' is not a duration"),
        ("listeners: [{address: nowhere}]", "test.yaml:1:23: listeners[0].address: 'nowhere' is not an address"),
        ("logging: {level: loud}", "test.yaml:1:18: logging.level: 'loud' is not allowed; expected one of: trace, debug"),
        ("listeners: [{address: ':80'}, {address: ':80'}]", "listeners[1].address: 0.0.0.0:80 is also used by listener 'listener0'"),
        ("listeners: [{name: a, address: ':80'}, {name: a, address: ':81'}]", "listeners[1].name: 'a' is used twice"),
        ("hosts: [{names: [a.com], routes: [{match: {path: x}, respond: {}}]}]", "hosts[0].routes[0].match.path: 'x' must start with /"),
        ("hosts: [{default: true, routes: [{match: {prefix: /}}]}]", "hosts[0].routes[0]: has no action"),
        ("hosts: [{default: true, routes: [{match: {prefix: /}, respond: {}, static: {}}]}]", "has several actions"),
        ("hosts: [{default: true, routes: [{match: {regex: '('}, respond: {}}]}]", "is not a valid regular expression"),
        ("hosts: [{default: true, routes: [{match: {path: '/a/*/b'}, respond: {}}]}]", "'*' must be the whole last segment"),
        ("hosts: [{default: true, routes: [{match: {prefix: /}, redirect: {to: /x, status: 200}}]}]", "redirect.status: 200 is out of range"),
        ("hosts: [{names: ['bad name'], routes: [{match: {prefix: /}, respond: {}}]}]", "is not a host name"),
        ("hosts: [{names: [a.com], routes: [{match: {prefix: /}, respond: {}}]}, {names: [a.com], routes: []}]", "'a.com' is also a name of hosts[0]"),
        ("hosts: [{default: true, routes: []}, {default: true, routes: []}]", "only one host may be the default"),
        ("hosts: [{default: true, routes: [{match: {prefix: /}, static: {try_files: [nope]}}]}]", "is not a candidate"),
        ("limits: [1, 2]", "test.yaml:1:9: limits: expected a mapping"),
        ("key: [unclosed", "test.yaml:2:1: YAML syntax"),
        ("admin: {address: '127.0.0.1:8080'}\nlisteners: [{address: '127.0.0.1:8080'}]", "admin.address: 127.0.0.1:8080 is also used by listener"),
    ])
    func invalidValuesSayWhereAndWhat(_ yaml: String, _ expected: String) {
        let e = errors(yaml)
        #expect(e.contains(where: { $0.contains(expected) }), "\(e)")
    }

    @Test func everyErrorIsReportedNotJustTheFirst() {
        let e = errors("limits: {max_header_count: 0, max_connections: -1}\ntimeouts: {idle: x}\nnope: 1")
        #expect(e.count == 4)
    }

    @Test func environmentOverrides() throws {
        var c = Configuration()
        try EnvironmentOverrides.apply(
            ["MERIDIAN_LISTEN": "127.0.0.1:9000", "MERIDIAN_ADMIN": "off", "MERIDIAN_ROOT": "/www", "MERIDIAN_LOG_LEVEL": "debug",
             "MERIDIAN_EVENT_LOOPS": "1", "MERIDIAN_DRAIN_DELAY": "250ms", "MERIDIAN_MAX_CONNECTIONS": "7"],
            to: &c)
        #expect(c.listeners.map(\.address.description) == ["127.0.0.1:9000"])
        #expect(c.admin.address == nil && c.defaults.root == "/www" && c.logging.level == .debug)
        #expect(c.server.eventLoops == 1 && c.lifecycle.drainDelay == .milliseconds(250) && c.limits.maxConnections == 7)
        #expect(throws: ConfigError.self) { try EnvironmentOverrides.apply(["MERIDIAN_EVENT_LOOPS": "many"], to: &c) }
        do {
            try EnvironmentOverrides.apply(["MERIDIAN_LISTEN": "x"], to: &c)
        } catch {
            #expect(error.description.hasPrefix("env MERIDIAN_LISTEN: 'x' is not an address"))
        }
    }

    @Test func commandLineFlagsWin() {
        var c = Configuration()
        CommandLineOverrides(listen: .init(host: "127.0.0.1", port: 1), admin: .init(host: "127.0.0.1", port: 2), root: "/r").apply(to: &c)
        #expect(c.listeners[0].address.port == 1 && c.admin.address?.port == 2 && c.defaults.root == "/r")
    }
}

/// `meridian validate` and `meridian version` as an operator runs them.
@Suite struct CLITests {
    @Test func validateAcceptsAGoodFile() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("good-\(UUID()).yaml")
        try Data("listeners: [{address: ':8080'}]\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (code, out) = try await MeridianProcess.run(["validate", file.path])
        #expect(code == 0)
        #expect(out.contains("configuration ok"))
    }

    @Test func validateListsEveryErrorWithFileLineColumn() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID()).yaml")
        try Data("limits:\n  max_header_count: 0\ntimeout: {}\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (code, out) = try await MeridianProcess.run(["validate", file.path])
        #expect(code == 1)
        #expect(out.contains("\(file.path):2:21: limits.max_header_count: 0 is out of range; expected 1...10000"))
        #expect(out.contains("\(file.path):3:1: timeout: unknown key (did you mean 'timeouts'?)"))
        #expect(out.contains("2 error(s)"))
    }

    @Test func validateReportsAMissingFile() async throws {
        let (code, out) = try await MeridianProcess.run(["validate", "/nonexistent/meridian.yaml"])
        #expect(code == 1)
        #expect(out.contains("/nonexistent/meridian.yaml: cannot read the file"))
    }

    @Test func versionPrints() async throws {
        let (code, out) = try await MeridianProcess.run(["version"])
        #expect(code == 0 && out.hasPrefix("meridian "))
    }

    @Test func badFlagIsAClearError() async throws {
        let (code, out) = try await MeridianProcess.run(["serve", "--listen", "nowhere"])
        #expect(code != 0)
        #expect(out.contains("--listen 'nowhere' is not an address"))
    }

    @Test func serveWithQuickFlagsServesTheRoot() async throws {
        // The quick flags alone, no file.
        let m = try MeridianProcess(arguments: ["serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--root", "."], files: ["index.html": "quick"])
        let r = try await get(try await m.port(of: "http"), "/")
        #expect(r.text == "quick")
        m.signal(SIGINT)
        #expect(await m.waitForExit() == 0)
    }

    @Test func serveWithTLSQuickFlagsSpeaksHTTP2() async throws {
        let certs = try await TestCertificates()
        defer { certs.remove() }
        try await certs.issue("a", dnsNames: ["a.test"])
        let m = try MeridianProcess(
            arguments: ["serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--root", ".", "--tls-cert", certs.cert("a"), "--tls-key", certs.key("a")],
            files: ["index.html": "tls quick"])
        let port = try await m.port(of: "http")
        #expect(m.log.contains("\"tls\":\"true\""))
        let (code, out) = try await CurlTests.curl(["--http2", "--cacert", certs.caPath, "--resolve", "a.test:\(port):127.0.0.1",
                                              "-w", " %{http_version}", "https://a.test:\(port)/"])
        #expect(code == 0 && out == "tls quick 2")
        m.signal(SIGINT)
        #expect(await m.waitForExit() == 0)
    }

    @Test func tlsFlagsGoTogether() async throws {
        let (code, out) = try await MeridianProcess.run(["serve", "--tls-cert", "/x.pem"])
        #expect(code != 0 && out.contains("--tls-cert and --tls-key go together"))
    }
}
