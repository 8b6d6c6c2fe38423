public import NIOSSL

/// A Redis server's address.
public struct RedisNode: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// How the client reaches Redis: one server, or the seed nodes of a Redis Cluster.
public struct RedisSettings: Sendable {
    public enum Topology: Sendable, Equatable {
        case standalone(RedisNode)
        /// Seed nodes: the slot map comes from `CLUSTER SLOTS` on the first that answers.
        case cluster([RedisNode])
    }

    public var topology: Topology
    /// ACL user (Redis 6+); `AUTH user password` when set, `AUTH password` when only the password is.
    public var username: String?
    public var password: String?
    /// `SELECT` after connecting (standalone only: a cluster has database 0 alone).
    public var database: Int = 0
    /// TLS to Redis when set (`rediss://`).
    public var tls: TLSConfiguration?
    /// The name checked against the certificate (and sent as SNI), when not the node's host name.
    public var tlsServerName: String?
    public var connectTimeout: Duration = .seconds(1)
    /// The default deadline of a command (callers on a request's path pass a shorter one).
    public var commandTimeout: Duration = .milliseconds(500)
    /// A connection that answers nothing for this long while commands wait is closed and reconnected.
    public var deadAfter: Duration = .seconds(2)
    /// Connections to each node from each event loop (commands are pipelined on each).
    public var connectionsPerLoop: Int = 1
    public var backoffBase: Duration = .milliseconds(50)
    public var backoffMax: Duration = .seconds(2)
    /// `CLIENT SETNAME`, so `CLIENT LIST` on the server shows which instance a connection is.
    public var clientName: String?

    public init(topology: Topology) {
        self.topology = topology
    }

    public var seeds: [RedisNode] {
        switch topology {
        case .standalone(let node): return [node]
        case .cluster(let nodes): return nodes
        }
    }

    public var isCluster: Bool {
        if case .cluster = topology { return true }
        return false
    }
}
