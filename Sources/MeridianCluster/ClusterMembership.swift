internal import Atomics
public import Logging
public import MeridianRedis
internal import NIOCore

/// This instance's name in the cluster, and how many instances are alive: each sends a heartbeat every second into
/// one sorted set (`<prefix>:instances`) and reads back how many beat within the last five seconds. The count sets
/// the per-instance share of a global limit while Redis is down and the share side of the breaker quorum rule.
public final class ClusterMembership: Sendable {
    public let instanceID: String
    private let client: RedisClient
    private let key: String
    private let live = ManagedAtomic<Int>(1)
    private let logger: Logger
    static let interval = Duration.seconds(1)
    static let ttl = Duration.seconds(5)
    static let script = RedisScript(RedisScripts.heartbeatScript)

    public init(client: RedisClient, keyPrefix: String, instanceID: String, logger: Logger) {
        self.client = client
        self.key = "\(keyPrefix):instances"
        self.instanceID = instanceID
        self.logger = logger
    }

    /// Instances seen alive at the last heartbeat (at least 1: this one). Kept through a Redis outage.
    public var liveInstances: Int { live.load(ordering: .relaxed) }

    /// One heartbeat now.
    public func beat() async {
        let reply = try? await client.run(Self.script, keys: [key], arguments: [.string(instanceID), RedisArgument(Int(Self.ttl.components.seconds * 1000))]).get()
        if let n = reply?.int, n > 0 { live.store(Int(n), ordering: .relaxed) }
    }

    /// Beats every second until cancelled (the first a second from now: start-up beats once itself, so the live
    /// count is known before the first request), then leaves the set (a drained instance stops counting at once).
    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.interval)
            if Task.isCancelled { break }
            await beat()
        }
        _ = try? await client.send(["ZREM", .string(key), .string(instanceID)], key: key).get()
    }
}
