internal import Atomics
public import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore

/// What the client tells the rest of the server: command results and timings, reconnects, pub/sub traffic, and
/// whether it is connected or degraded. Telemetry implements it (metrics); the default does nothing.
public protocol RedisObserver: Sendable {
    /// A command finished: `result` is `ok`, `error` (an error reply), `timeout`, `unavailable` or `closed`.
    func redisCommand(result: String, seconds: Double)
    func redisReconnected(node: String)
    func redisPubSubMessage(channel: String)
    /// The client went degraded (`reason` says why) or came back (`reason` nil).
    func redisStateChanged(degraded: Bool, reason: String?)
}

extension RedisObserver {
    /// A command sent at `started` finished with `result` (``RedisClient/send(_:key:timeout:on:)`` and
    /// ``RedisClient/pipeline(_:key:timeout:on:_:)`` report through it).
    func commandFinished(_ result: Result<RedisValue, any Error>, since started: NIODeadline) {
        redisCommand(result: RedisClient.label(result), seconds: Double((NIODeadline.now() - started).nanoseconds) / 1e9)
    }
}

/// Whether Redis can be reached, as `/readyz?verbose`, the status page and the gauge show it.
public struct RedisStatus: Sendable, Equatable {
    public var degraded: Bool
    /// Why, while degraded: the first unreachable node and what failed.
    public var reason: String?
    /// When the current state began.
    public var since: ContinuousClock.Instant
}

/// Collects the links' states into one ``RedisStatus`` and reports each change once (a log line and the observer).
final class RedisEvents: Sendable {
    private struct State {
        var down: [ObjectIdentifier: String] = [:]
        var status = RedisStatus(degraded: false, reason: nil, since: .now)
        var started = false
        var closed = false
    }

    private let state = NIOLockedValueBox(State())
    /// `status.degraded`, readable without the lock (requests ask it).
    private let degradedNow = ManagedAtomic<Bool>(false)
    let observer: (any RedisObserver)?
    let logger: Logger

    init(observer: (any RedisObserver)?, logger: Logger) {
        self.observer = observer
        self.logger = logger
    }

    var status: RedisStatus { state.withLockedValue { $0.status } }

    var isDegraded: Bool { degradedNow.load(ordering: .relaxed) }

    /// A link or the subscriber is up (`problem` nil) or down.
    func set(_ id: ObjectIdentifier, problem: String?) {
        let change: RedisStatus? = state.withLockedValue { s in
            guard !s.closed else { return nil }
            if let problem { s.down[id] = problem } else { s.down[id] = nil }
            let degraded = !s.down.isEmpty
            let reason = s.down.values.sorted().first
            guard degraded != s.status.degraded else {
                if degraded { s.status.reason = reason }
                return nil
            }
            s.status = RedisStatus(degraded: degraded, reason: reason, since: .now)
            degradedNow.store(degraded, ordering: .relaxed)
            return s.started ? s.status : nil
        }
        guard let change else { return }
        report(change)
    }


    /// Marks the end of start-up: from now on changes are logged (start-up logs its own summary).
    func startupFinished() -> RedisStatus {
        state.withLockedValue { s in
            s.started = true
            return s.status
        }
    }

    func report(_ status: RedisStatus) {
        if status.degraded {
            logger.warning("redis degraded: shared state falls back to local", metadata: ["reason": "\(status.reason ?? "")"])
        } else {
            logger.notice("redis connected: shared state resumes")
        }
        observer?.redisStateChanged(degraded: status.degraded, reason: status.reason)
    }

    /// The client is shutting down: links closing are not news.
    func close() {
        state.withLockedValue { $0.closed = true }
    }

    func reconnected(_ node: RedisNode) {
        observer?.redisReconnected(node: node.description)
    }

    func handshakeFailed(_ node: RedisNode, _ error: any Error) {
        logger.error("redis refused the connection setup", metadata: ["node": "\(node)", "error": "\(error)"])
    }
}
