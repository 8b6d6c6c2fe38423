internal import Atomics
internal import Foundation
public import Logging
public import MeridianRedis
internal import NIOConcurrencyHelpers
internal import NIOCore

/// What an instance tells the others about itself (`/status.json`'s `cluster.instances`).
public struct ClusterInstance: Sendable, Codable, Equatable {
    public var id: String
    public var host: String
    /// The admin listener (`host:port`): where its status page, metrics and probes are.
    public var admin: String?
    public var version: String
    public var started_at: String

    public init(id: String, host: String, admin: String?, version: String, startedAt: String) {
        self.id = id
        self.host = host
        self.admin = admin
        self.version = version
        self.started_at = startedAt
    }
}

/// This instance's name in the cluster, and which instances are alive: each sends a heartbeat every second into
/// one sorted set (`<prefix>:instances`) and reads back the ones that beat within the last five seconds, with what
/// each announced about itself (host, admin address, version). The count sets
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

    /// The live instances as they announced themselves at the last heartbeat, this one included (sorted by id);
    /// empty until the first heartbeat reached Redis. Kept through a Redis outage, like the count.
    public var instances: [ClusterInstance] { peers.withLockedValue { $0 } }
    private let peers = NIOLockedValueBox<[ClusterInstance]>([])
    private let announcement = NIOLockedValueBox<ClusterInstance?>(nil)

    /// What this instance tells the others from its next heartbeat on (the admin address is known once it is bound).
    public func announce(_ instance: ClusterInstance) {
        announcement.withLockedValue { $0 = instance }
    }

    /// One heartbeat now: this instance's beat and its announcement (`<prefix>:instance:<id>`, with the same TTL),
    /// then the others' announcements, one GET each (separate keys, so each goes to its own node of a Redis Cluster).
    public func beat() async {
        let ttl = Int(Self.ttl.components.seconds * 1000)
        guard let reply = try? await client.run(Self.script, keys: [key], arguments: [.string(instanceID), RedisArgument(ttl)]).get(),
            let ids = reply.array?.compactMap(\.string), !ids.isEmpty
        else { return }
        live.store(ids.count, ordering: .relaxed)
        guard let mine = announcement.withLockedValue({ $0 }), let json = try? JSONEncoder().encode(mine) else { return }
        _ = try? await client.send(["SET", .string(infoKey(instanceID)), .string(String(decoding: json, as: UTF8.self)), "PX", RedisArgument(ttl)], key: infoKey(instanceID)).get()
        var seen: [ClusterInstance] = []
        for id in ids {
            if id == instanceID {
                seen.append(mine)
                continue
            }
            guard let value = try? await client.send(["GET", .string(infoKey(id))], key: infoKey(id)).get(), let text = value.string,
                let other = try? JSONDecoder().decode(ClusterInstance.self, from: Data(text.utf8))
            else {
                seen.append(ClusterInstance(id: id, host: "?", admin: nil, version: "?", startedAt: ""))  // beating, not yet announced
                continue
            }
            seen.append(other)
        }
        peers.withLockedValue { $0 = seen.sorted { $0.id < $1.id } }
    }

    func infoKey(_ id: String) -> String { "\(key.dropLast("instances".count))instance:\(id)" }

    /// Beats every second until cancelled (the first a second from now: start-up beats once itself, so the live
    /// count is known before the first request), then leaves the set (a drained instance stops counting at once).
    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.interval)
            if Task.isCancelled { break }
            await beat()
        }
        _ = try? await client.send(["ZREM", .string(key), .string(instanceID)], key: key).get()
        _ = try? await client.send(["DEL", .string(infoKey(instanceID))], key: infoKey(instanceID)).get()
    }
}
