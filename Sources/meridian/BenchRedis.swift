import ArgumentParser
import Foundation
import Logging
import MeridianConfig
import MeridianRedis
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// `meridian bench-redis`: the Redis client's pipelined throughput, for `bench/redis.sh` to set beside
/// `redis-benchmark -P`. Hidden from help: a measuring tool, not a feature.
///
/// `--connections` callers each keep `--pipeline` commands in flight (redis-benchmark's `-c` and `-P`), but the
/// client has one connection per event loop (`--connections-per-loop` to change that), so the callers share it:
/// every command a tick issues goes out in one write. Commands are issued from the completion callbacks on the
/// event loops, no Task per command, as the rate limiter and breakers call the client.
struct BenchRedis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-redis",
        abstract: "Measure the Redis client's pipelined GET/SET throughput (for bench/redis.sh).",
        shouldDisplay: false
    )

    enum Command: String, ExpressibleByArgument, CaseIterable {
        case get, set
    }

    @Option(help: "The Redis server, redis://HOST:PORT.")
    var url: String

    @Option(help: "Commands to send in all.")
    var requests: Int = 100_000

    @Option(help: "Commands each caller keeps in flight (redis-benchmark -P).")
    var pipeline: Int = 1

    @Option(help: "Concurrent callers (redis-benchmark -c); they share each event loop's connection.")
    var connections: Int = 50

    @Option(help: "get or set.")
    var command: Command = .get

    @Option(help: "Bytes in the value (redis-benchmark -d).")
    var valueSize: Int = 3

    @Option(help: "Event loops (threads); callers are spread over them round-robin.")
    var loops: Int = 1

    @Option(help: "Connections to Redis from each event loop (the client's pool.connections_per_loop).")
    var connectionsPerLoop: Int = 1

    func validate() throws {
        guard requests > 0, pipeline > 0, connections > 0, loops > 0, connectionsPerLoop > 0, valueSize >= 0 else {
            throw ValidationError(
                "--requests, --pipeline, --connections, --loops and --connections-per-loop must be positive")
        }
        guard connections >= loops else {
            throw ValidationError(
                "--connections (\(connections)) must be at least --loops (\(loops)): each loop needs a caller")
        }
    }

    func run() async throws {
        let parsed: Configuration.Redis
        switch Configuration.Redis.parse(url: url) {
        case .success(let r): parsed = r
        case .failure(let e): throw ValidationError("--url: \(e.message)")
        }
        var settings = RedisSettings(
            topology: .standalone(RedisNode(host: parsed.nodes[0].host, port: parsed.nodes[0].port)))
        settings.username = parsed.username
        settings.password = parsed.password
        settings.database = parsed.database
        settings.connectionsPerLoop = connectionsPerLoop
        // A deep queue (callers x pipeline per connection) must not time out behind itself.
        settings.commandTimeout = .seconds(30)
        settings.deadAfter = .seconds(30)
        var logger = Logger(label: "meridian.bench-redis")
        logger.logLevel = .warning

        let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
        let client = try RedisClient(settings: settings, group: group, logger: logger)
        do {
            try await client.start()
            guard !client.status.degraded else {
                throw Self.failure("cannot reach Redis at \(url); start redis-server or fix --url")
            }
            let result = try await measure(client, group: group)
            print(result)
        } catch {
            await client.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
        await client.shutdown()
        try await group.shutdownGracefully()
    }

    /// Runs the load on every loop at once and returns the summary as one JSON line.
    private func measure(_ client: RedisClient, group: MultiThreadedEventLoopGroup) async throws -> String {
        let key = "key:__rand_int__"  // redis-benchmark's key without -r
        let value = ByteBuffer(repeating: UInt8(ascii: "x"), count: valueSize)
        // GET reads the value a SET would have written, so both move the same bytes.
        let stored = try await client.send(["SET", .string(key), .bytes(value)]).get()
        if case .error(let message) = stored { throw Self.failure("SET \(key) failed: \(message)") }
        let arguments: [RedisArgument] =
            command == .get ? ["GET", .string(key)] : ["SET", .string(key), .bytes(value)]

        let eventLoops = Array(group.makeIterator())
        var loads: [RedisLoad] = []
        var assigned = 0
        for (i, eventLoop) in eventLoops.enumerated() {
            // Callers round-robin over the loops; the requests in proportion to the callers.
            let callers = connections / loops + (i < connections % loops ? 1 : 0)
            let quota = i == eventLoops.count - 1 ? requests - assigned : requests * callers / connections
            assigned += quota
            loads.append(
                RedisLoad(
                    client: client, eventLoop: eventLoop, arguments: arguments, key: key, quota: quota,
                    window: callers * pipeline))
        }
        let cpuBefore = Self.cpuSeconds()
        let started = ContinuousClock.now
        let finished = loads.map { $0.start() }
        for f in finished { try await f.get() }
        let elapsed = ContinuousClock.now - started
        let cpu = Self.cpuSeconds() - cpuBefore

        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var errors = 0
        var firstError: String?
        for load in loads {
            let (e, first) = try await load.eventLoop.submit { (load.errors, load.firstError) }.get()
            errors += e
            firstError = firstError ?? first
        }
        let fields: [(String, String)] =
            [
                ("command", "\"\(command.rawValue)\""), ("requests", "\(requests)"), ("pipeline", "\(pipeline)"),
                ("connections", "\(connections)"), ("loops", "\(loops)"),
                ("connections_per_loop", "\(connectionsPerLoop)"),
                ("value_size", "\(valueSize)"), ("seconds", String(format: "%.3f", seconds)),
                ("rps", String(format: "%.0f", Double(requests) / seconds)),
                ("cpu_seconds", String(format: "%.3f", cpu)),
                ("cpu_us_per_request", String(format: "%.3f", cpu * 1e6 / Double(requests))), ("errors", "\(errors)"),
            ] + (firstError.map { [("first_error", "\"\($0.replacingOccurrences(of: "\"", with: "'"))\"")] } ?? [])
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }

    /// A run-time failure: the message on stderr and exit status 1 (a ValidationError would print the usage too).
    private static func failure(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("meridian bench-redis: \(message)\n".utf8))
        return ExitCode(1)
    }

    /// User + system CPU of the whole process (every event loop thread).
    private static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }
}

/// One event loop's share of a `bench-redis` run: `window` commands in flight until `quota` have been sent, the
/// next one issued from each completion. Confined to its event loop (every method runs on it, and the counters are
/// read through `eventLoop.submit`), which is what makes the unchecked `Sendable` safe.
final class RedisLoad: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let client: RedisClient
    private let arguments: [RedisArgument]
    private let key: String
    private let quota: Int
    private let window: Int
    private let done: EventLoopPromise<Void>
    private var issued = 0
    private var completed = 0
    private(set) var errors = 0
    private(set) var firstError: String?

    init(
        client: RedisClient, eventLoop: any EventLoop, arguments: [RedisArgument], key: String, quota: Int, window: Int
    ) {
        self.client = client
        self.eventLoop = eventLoop
        self.arguments = arguments
        self.key = key
        self.quota = quota
        self.window = window
        self.done = eventLoop.makePromise()
    }

    func start() -> EventLoopFuture<Void> {
        eventLoop.execute {
            if self.quota == 0 { self.done.succeed() }
            for _ in 0..<min(self.window, self.quota) { self.issue() }
        }
        return done.futureResult
    }

    private func issue() {
        issued += 1
        client.send(arguments, key: key, on: eventLoop).whenComplete { result in self.finished(result) }
    }

    private func finished(_ result: Result<RedisValue, any Error>) {
        completed += 1
        var failed = false
        switch result {
        case .success(.error(let message)):
            errors += 1
            firstError = firstError ?? message
        case .success:
            break
        case .failure(let error):
            errors += 1
            firstError = firstError ?? "\(error)"
            failed = true
        }
        if issued < quota {
            // A failure can complete inside send (no connection): go round the loop rather than recurse.
            if failed { eventLoop.execute { self.issue() } } else { issue() }
        } else if completed == quota {
            done.succeed()
        }
    }
}
