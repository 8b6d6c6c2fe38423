import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` on a random loopback port, with no persistence, for one test. `stop()` kills it (SIGKILL:
/// what a crash or an OOM kill looks like to the client) and `start()` brings it back on the same port.
final class RedisServer: @unchecked Sendable {  // mutated only by the test that owns it
    let port: Int
    let directory: String
    let extraArguments: [String]
    private var child: ChildProcess?

    init(arguments: [String] = []) async throws {
        directory = NSTemporaryDirectory() + "meridian-redis-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        extraArguments = arguments
        var lastError: (any Error)?
        for _ in 0..<8 {
            let candidate = Int.random(in: 20000...59000)
            do {
                try await Self.launch(port: candidate, directory: directory, arguments: arguments, into: &child)
                port = candidate
                return
            } catch {
                lastError = error
            }
        }
        throw lastError ?? TestError("redis-server did not start")
    }

    private static func launch(port: Int, directory: String, arguments: [String], into child: inout ChildProcess?) async throws {
        let process = try ChildProcess(
            [
                "redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--dir", directory, "--logfile", "\(directory)/redis-\(port).log", "--protected-mode", "no",
            ] + arguments
        )
        // Ready once it answers (requirepass servers answer NOAUTH, which is an answer too).
        for _ in 0..<100 {
            guard process.isRunning else { break }
            let (_, out) = try await Subprocess.run("redis-cli", ["-p", "\(port)", "PING"], timeout: 5)
            if out.contains("PONG") || out.contains("NOAUTH") { child = process; return }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.signal(SIGKILL)
        process.waitUntilExit()
        throw TestError("redis-server on port \(port) did not start: \((try? String(contentsOfFile: "\(directory)/redis-\(port).log", encoding: .utf8)) ?? "")")
    }

    /// Kills the server at once.
    func stop() {
        child?.signal(SIGKILL)
        child?.waitUntilExit()
        child = nil
    }

    /// Starts it again on the same port, empty.
    func start() async throws {
        try await Self.launch(port: port, directory: directory, arguments: extraArguments, into: &child)
    }

    /// `redis-cli` against this server; the reply's text.
    @discardableResult
    func cli(_ arguments: String...) async throws -> String {
        try await cli(arguments)
    }

    func cli(_ arguments: [String]) async throws -> String {
        let (code, out) = try await Subprocess.run("redis-cli", ["-p", "\(port)"] + arguments, timeout: 20)
        guard code == 0 else { throw TestError("redis-cli \(arguments.joined(separator: " ")): \(out)") }
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit {
        child?.signal(SIGKILL)
        child?.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Three `redis-server`s in cluster mode, joined with `redis-cli --cluster create` (three masters, no replicas).
final class RedisClusterFixture: @unchecked Sendable {
    let nodes: [RedisServer]

    init() async throws {
        var nodes: [RedisServer] = []
        for _ in 0..<3 {
            nodes.append(try await RedisServer(arguments: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes-\(UUID().uuidString).conf", "--cluster-node-timeout", "2000"]))
        }
        self.nodes = nodes
        let addresses = nodes.map { "127.0.0.1:\($0.port)" }
        let (code, out) = try await Subprocess.run("redis-cli", ["--cluster", "create"] + addresses + ["--cluster-replicas", "0", "--cluster-yes"], timeout: 60)
        guard code == 0 else { throw TestError("redis-cli --cluster create: \(out)") }
        for _ in 0..<200 {
            var ok = true
            for node in nodes where try await !node.cli("CLUSTER", "INFO").contains("cluster_state:ok") { ok = false }
            if ok { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestError("the cluster did not reach cluster_state:ok")
    }

    var ports: [Int] { nodes.map(\.port) }

    /// The server that owns `slot` now, by `CLUSTER NODES` (`id ip:port@bus flags master ping pong epoch state ranges...`).
    func owner(of slot: Int) async throws -> RedisServer {
        for line in try await nodes[0].cli("CLUSTER", "NODES").split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 8, fields[2].contains("master"), let port = Int(fields[1].split(separator: "@")[0].split(separator: ":").last ?? "") else { continue }
            for range in fields[8...] where !range.hasPrefix("[") {
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                if let low = bounds.first, slot >= low, slot <= (bounds.last ?? low) { return nodes.first { $0.port == port }! }
            }
        }
        throw TestError("no node owns slot \(slot)")
    }

    func id(of node: RedisServer) async throws -> String {
        try await node.cli("CLUSTER", "MYID")
    }
}

/// A loopback port nothing listens on now (bound to port 0, then released): for a second port of a server that
/// takes its ports on the command line.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestError("socket: \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0 else { throw TestError("bind: \(errno)") }
    let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    guard named == 0 else { throw TestError("getsockname: \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
