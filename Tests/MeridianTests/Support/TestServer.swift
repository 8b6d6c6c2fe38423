import Foundation
import Logging
import MeridianConfig
import MeridianServer

/// A Meridian instance started in-process on port 0 for one test, from YAML like an operator writes.
struct TestServer {
    let app: MeridianApplication
    let port: Int
    let adminPort: Int?
    let directory: URL

    /// `yaml` may use `{{root}}` for a fresh temporary directory (also `directory`).
    static func start(
        _ yaml: String = "", files: [String: String] = [:], configure: ((URL) throws -> Void)? = nil, cacheClock: (@Sendable () -> Double)? = nil
    ) async throws -> TestServer {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (path, content) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
        }
        try configure?(dir)
        let text = yaml.replacingOccurrences(of: "{{root}}", with: dir.path)
        let configFile = dir.appendingPathComponent("meridian.yaml")
        try Data(text.utf8).write(to: configFile)
        var config = try ConfigLoader.load(file: configFile.path, environment: [:])
        if !text.contains("listeners:") {
            config.listeners = [Configuration.Listener(name: "http", address: .init(host: "127.0.0.1", port: 0))]
        }
        if !text.contains("admin:") { config.admin.address = .init(host: "127.0.0.1", port: 0) }
        if !text.contains("event_loops") { config.server.eventLoops = 2 }
        if !text.contains("defaults:") { config.defaults.root = dir.path }
        // Tests that read the access log configure it; the rest keep the test output clean.
        if !text.contains("access_log") { config.telemetry.accessLog.enabled = false }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let app = try MeridianApplication(configuration: config, configPath: configFile.path, logger: logger, cacheClock: cacheClock)
        let bound = try await app.start()
        return TestServer(app: app, port: bound[0].address.port!, adminPort: app.adminListener?.address.port, directory: dir)
    }

    func client() async throws -> RawClient { try await RawClient.connect(port: port) }

    /// One request on a fresh connection.
    func get(_ path: String, headers: [String: String] = [:], method: String = "GET") async throws -> TestResponse {
        let c = try await client()
        defer { Task { await c.close() } }
        var req = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n"
        for (k, v) in headers { req += "\(k): \(v)\r\n" }
        req += "\r\n"
        try await c.send(req)
        return try await c.readResponse(head: method == "HEAD")
    }

    func stop() async {
        await app.shutdown(.fast)
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Starts a server for `body` and stops it (awaited) however `body` ends.
func withTestServer<T>(
    _ yaml: String = "", files: [String: String] = [:], configure: ((URL) throws -> Void)? = nil,
    cacheClock: (@Sendable () -> Double)? = nil, _ body: (TestServer) async throws -> T
) async throws -> T {
    let server = try await TestServer.start(yaml, files: files, configure: configure, cacheClock: cacheClock)
    let result: Result<T, any Error>
    do { result = .success(try await body(server)) } catch { result = .failure(error) }
    await server.stop()
    return try result.get()
}

/// Starts `count` servers with one config (one Redis key prefix: one cluster) for `body`, and stops them all
/// (awaited) however `body` ends.
func withTestServers<T>(
    _ count: Int, _ yaml: String, cacheClock: (@Sendable () -> Double)? = nil, _ body: ([TestServer]) async throws -> T
) async throws -> T {
    var servers: [TestServer] = []
    let result: Result<T, any Error>
    do {
        for _ in 0..<count { servers.append(try await TestServer.start(yaml, cacheClock: cacheClock)) }
        result = .success(try await body(servers))
    } catch {
        result = .failure(error)
    }
    for s in servers { await s.stop() }
    return try result.get()
}
