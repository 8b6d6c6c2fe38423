import Foundation
import Testing

/// The cluster as one instance's admin port shows it: each instance announces itself in Redis with its heartbeat
/// (host, admin address, version; five-second TTL), and `/status.json`, the status page and
/// `meridian_cluster_instances` list the live ones. Three instances share a real `redis-server`.
@Suite struct ClusterStatusTests {
    static func yaml(redis: Int?, prefix: String) -> String {
        """
        \(redis.map { "redis: {url: \"redis://127.0.0.1:\($0)\", key_prefix: \"\(prefix)\"}" } ?? "")
        admin: {address: 127.0.0.1:0}
        """
    }

    static func cluster(_ s: TestServer) async throws -> [String: Any]? {
        let r = try await s.admin("/status.json")
        let doc = try JSONSerialization.jsonObject(with: Data(r.text.utf8)) as? [String: Any]
        return doc?["cluster"] as? [String: Any]
    }

    @Test func everyInstanceListsTheLiveOnesWithTheirAdminAddresses() async throws {
        let redis = try await RedisServer()
        let prefix = "s\(UUID().uuidString.prefix(8))"
        try await withTestServers(3, Self.yaml(redis: redis.port, prefix: prefix)) { s in
            try await waitUntil(timeout: .seconds(10)) {
                (try await Self.cluster(s[0])?["instances"] as? [Any])?.count == 3
            }
            let cluster = try #require(try await Self.cluster(s[0]))
            let instances = try #require(cluster["instances"] as? [[String: Any]])
            let admins = Set(instances.compactMap { $0["admin"] as? String })
            #expect(admins == Set(s.map { "127.0.0.1:\($0.adminPort ?? 0)" }), "\(instances)")
            #expect(cluster["live"] as? Int == 3)
            let me = try #require(cluster["instance"] as? String)
            #expect(instances.contains { $0["id"] as? String == me }, "this instance is among them")
            #expect(instances.allSatisfy { ($0["version"] as? String)?.isEmpty == false && ($0["started_at"] as? String)?.isEmpty == false })
            // Each instance learns the count at its own heartbeat (one a second).
            try await waitUntil(timeout: .seconds(5)) {
                try await s[1].metrics()["meridian_cluster_instances"]?.samples.first?.value == 3
            }
            // The status page draws the card from the same document.
            let page = try await s[2].admin("/status")
            #expect(page.text.contains("data-testid=\"cluster\""))
        }
    }

    @Test func aStoppedInstanceLeavesTheListAndWithoutRedisThereIsNone() async throws {
        let redis = try await RedisServer()
        let prefix = "s\(UUID().uuidString.prefix(8))"
        try await withTestServer(Self.yaml(redis: redis.port, prefix: prefix)) { a in
            try await withTestServer(Self.yaml(redis: redis.port, prefix: prefix)) { b in
                try await waitUntil(timeout: .seconds(10)) { (try await Self.cluster(a)?["instances"] as? [Any])?.count == 2 }
                _ = b
            }
            // b drained: it left the set on the way out, so the next heartbeat sees one instance (well within the TTL).
            try await waitUntil(timeout: .seconds(4)) { (try await Self.cluster(a)?["instances"] as? [Any])?.count == 1 }
            #expect(try await redis.cli("KEYS", "\(prefix):instance:*").split(separator: "\n").count == 1, "b's announcement is gone")
        }
        try await withTestServer(Self.yaml(redis: nil, prefix: prefix)) { s in
            let r = try await s.admin("/status.json")
            #expect(r.text.contains("\"cluster\":null"), "\(r.text.prefix(300))")
            #expect(try await s.metrics()["meridian_cluster_instances"] == nil)
        }
    }
}
