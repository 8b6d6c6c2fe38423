import Foundation
import Logging
@testable import MeridianRedis
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// The Redis client against a real `redis-server` (and a real three-master Redis Cluster).
@Suite(.serialized)
struct RedisClientTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    static func client(
        _ port: Int, start: Bool = true, _ configure: (inout RedisSettings) -> Void = { _ in }
    ) async throws -> RedisClient {
        var settings = RedisSettings(topology: .standalone(RedisNode(host: "127.0.0.1", port: port)))
        settings.backoffBase = .milliseconds(20)
        settings.backoffMax = .milliseconds(300)
        configure(&settings)
        let client = try RedisClient(settings: settings, group: group, logger: Logger(label: "redis-test"))
        if start { try await client.start() }
        return client
    }

    @Test func everyReplyTypeIsParsed() async throws {
        let server = try await RedisServer()
        let client = try await Self.client(server.port)
        defer { Task { await client.shutdown() } }
        #expect(try await client.send(["SET", "k", "v"]).get() == .simple("OK"))
        #expect(try await client.send(["GET", "k"]).get().string == "v")
        #expect(try await client.send(["GET", "missing"]).get() == .null)
        #expect(try await client.send(["INCRBY", "n", 41]).get() == .integer(41))
        let error = try await client.send(["INCR", "k"]).get()
        guard case .error(let message) = error else { Issue.record("expected an error reply, got \(error)"); return }
        #expect(message.hasPrefix("ERR value is not an integer"))
        // Binary-safe: CR, LF and NUL inside a value.
        let binary = ByteBuffer(bytes: [0, 13, 10, 255, 36, 42, 0])
        _ = try await client.send(["SET", "bin", .bytes(binary)]).get()
        #expect(try await client.send(["GET", "bin"]).get() == .bulk(binary))
        // Nested arrays, nil inside an array, an empty array, integers and errors inside arrays (from Lua).
        let nested = try await client.send(["EVAL", "return {1, {2, {3, 'x', false}}, {}, redis.error_reply('E nope')}", 0]).get()
        #expect(nested == .array([.integer(1), .array([.integer(2), .array([.integer(3), .bulk(ByteBuffer(string: "x")), .null])]), .array([]), .error("E nope")]))
        #expect(try await client.send(["EVAL", "return nil", 0]).get() == .null)
        let big = String(repeating: "x", count: 300_000)
        _ = try await client.send(["SET", "big", .string(big)]).get()
        #expect(try await client.send(["GET", "big"]).get().string == big)
    }

    @Test func tenThousandPipelinedCommandsAreAnsweredInOrder() async throws {
        let server = try await RedisServer()
        let client = try await Self.client(server.port)
        defer { Task { await client.shutdown() } }
        let loop = Self.group.next()
        let replies = try await loop.flatSubmit {
            // All 10,000 are written in one tick before any reply can arrive: they are in flight together.
            let futures = (0..<10_000).map { _ in client.send(["INCR", "counter"], timeout: .seconds(30), on: loop) }
            return EventLoopFuture.whenAllSucceed(futures, on: loop)
        }.get()
        #expect(replies == (1...10_000).map { RedisValue.integer(Int64($0)) })
        #expect(try await server.cli("GET", "counter") == "10000")
    }

    /// ``RedisClient/pipeline(_:key:timeout:on:_:)``: the replies in order in one callback on the caller's loop,
    /// error replies as values, a timeout as one failure (and the connection in step afterwards), and the same
    /// answers from another thread (the general path).
    @Test func pipelinesAnswerOnceWithEveryReplyInOrder() async throws {
        let server = try await RedisServer(arguments: ["--enable-debug-command", "yes"])
        let client = try await Self.client(server.port)
        defer { Task { await client.shutdown() } }
        let loop = Self.group.next()
        _ = try await client.send(["HSET", "h", "m", "meta", "b", "body"], on: loop).get()
        let commands: [[RedisArgument]] = [["HMGET", "h", "m", "k", "b"], ["GET", "missing"], ["INCR", "h"], ["INCR", "n"]]
        let expected: [RedisValue] = [
            .array([.bulk(ByteBuffer(string: "meta")), .null, .bulk(ByteBuffer(string: "body"))]), .null,
            .error("WRONGTYPE Operation against a key holding the wrong kind of value"), .integer(1),
        ]
        func run(on eventLoop: any EventLoop, _ commands: [[RedisArgument]], timeout: Duration? = nil) async throws -> Result<[RedisValue], any Error> {
            let calls = NIOLockedValueBox(0)
            let result = try await eventLoop.flatSubmit { () -> EventLoopFuture<Result<[RedisValue], any Error>> in
                let promise = eventLoop.makePromise(of: Result<[RedisValue], any Error>.self)
                client.pipeline(commands, key: "h", timeout: timeout, on: eventLoop) { result in
                    #expect(eventLoop.inEventLoop)
                    calls.withLockedValue { $0 += 1 }
                    promise.succeed(result)
                }
                return promise.futureResult
            }.get()
            try await Task.sleep(for: .milliseconds(50))
            #expect(calls.withLockedValue { $0 } == 1)
            return result
        }
        #expect(try await run(on: loop, commands).get() == expected)
        // Called from outside the client's loops: the general path, the same answers.
        let outside = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        #expect(try await run(on: outside.next(), [["GET", "n"], ["ECHO", "x"]]).get() == [.bulk(ByteBuffer(string: "1")), .bulk(ByteBuffer(string: "x"))])
        try await outside.shutdownGracefully()
        // A pipeline stuck behind a slow command times out once; the late replies are matched and dropped.
        let slow = client.send(["DEBUG", "SLEEP", "0.3"], timeout: .seconds(2), on: loop)
        let timedOut = try await run(on: loop, [["PING"], ["ECHO", "late"]], timeout: .milliseconds(50))
        #expect(throws: RedisError.timeout) { try timedOut.get() }
        #expect(try await slow.get() == .simple("OK"))
        #expect(try await run(on: loop, [["ECHO", "after"]]).get() == [.bulk(ByteBuffer(string: "after"))])
        // Redis gone: a failure at once, not a wait.
        server.stop()
        try await waitUntil { client.status.degraded }
        let started = ContinuousClock.now
        let down = try await run(on: loop, [["PING"], ["PING"]], timeout: .seconds(2))
        #expect(throws: RedisError.self) { try down.get() }
        #expect(ContinuousClock.now - started < .milliseconds(200))
    }

    @Test func aKilledServerFailsCommandsAtOnceAndTheClientReconnects() async throws {
        let server = try await RedisServer()
        let client = try await Self.client(server.port)
        defer { Task { await client.shutdown() } }
        #expect(try await client.send(["PING"]).get() == .simple("PONG"))
        #expect(client.status.degraded == false)
        server.stop()
        // The loss is noticed, and from then on commands do not wait for a timeout.
        try await waitUntil { client.status.degraded }
        let started = ContinuousClock.now
        await #expect(throws: RedisError.self) { try await client.send(["PING"], timeout: .seconds(2)).get() }
        #expect(ContinuousClock.now - started < .milliseconds(100))
        #expect(client.status.reason?.contains("127.0.0.1:\(server.port)") == true)
        try await server.start()
        try await waitUntil(timeout: .seconds(5)) { !client.status.degraded }
        #expect(try await client.send(["PING"]).get() == .simple("PONG"))
    }

    @Test func pubSubResubscribesAfterTheServerComesBack() async throws {
        let server = try await RedisServer()
        let client = try await Self.client(server.port)
        defer { Task { await client.shutdown() } }
        let received = Received()
        client.subscribe("meridian:test") { _, message in received.add(String(buffer: message)) }
        try await waitUntil { await client.subscribedChannels().contains("meridian:test") }
        try await server.cli("PUBLISH", "meridian:test", "one")
        try await waitUntil { received.all == ["one"] }
        server.stop()
        try await server.start()
        try await waitUntil(timeout: .seconds(5)) { await client.subscribedChannels().contains("meridian:test") }
        try await server.cli("PUBLISH", "meridian:test", "two")
        // And the client's own PUBLISH reaches its own subscription (once its command links are back too: the
        // pub/sub connection may come back first).
        try await waitUntil(timeout: .seconds(5)) { !client.status.degraded }
        _ = try await client.publish("meridian:test", "three").get()
        try await waitUntil { received.all == ["one", "two", "three"] }
    }

    @Test func scriptsRunByHashAndAreReloadedAfterAFlush() async throws {
        let server = try await RedisServer()
        let client = try await Self.client(server.port)
        defer { Task { await client.shutdown() } }
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        #expect(try await server.cli("SCRIPT", "LOAD", script.source) == script.sha1)
        #expect(try await client.run(script, keys: ["s"], arguments: [2]).get() == .integer(2))
        try await server.cli("SCRIPT", "FLUSH")
        #expect(try await client.run(script, keys: ["s"], arguments: [3]).get() == .integer(5))
        #expect(try await server.cli("SCRIPT", "EXISTS", script.sha1) == "1")
        #expect(SHA1.hex(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hex([]) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    }

    @Test func aWrongPasswordIsAClearStartupError() async throws {
        let server = try await RedisServer(arguments: ["--requirepass", "s3cret"])
        let wrong = try await Self.client(server.port, start: false) { $0.password = "nope" }
        do {
            try await wrong.start()
            Issue.record("start() should have failed")
        } catch let error as RedisError {
            guard case .handshake(let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("AUTH") && (message.contains("WRONGPASS") || message.contains("invalid")))
        }
        await wrong.shutdown()
        // ACL user and SELECT.
        try await server.cli("-a", "s3cret", "--no-auth-warning", "ACL", "SETUSER", "meridian", "on", ">pw", "~*", "+@all")
        let right = try await Self.client(server.port) {
            $0.username = "meridian"
            $0.password = "pw"
            $0.database = 3
            $0.clientName = "meridian-test"
        }
        _ = try await right.send(["SET", "in3", "yes"]).get()
        #expect(try await server.cli("-a", "s3cret", "--no-auth-warning", "-n", "3", "GET", "in3") == "yes")
        #expect(try await server.cli("-a", "s3cret", "--no-auth-warning", "CLIENT", "LIST").contains("name=meridian-test"))
        await right.shutdown()
    }

    @Test func aSlowCommandTimesOutAndTheConnectionCarriesOn() async throws {
        let server = try await RedisServer(arguments: ["--enable-debug-command", "yes"])
        let client = try await Self.client(server.port)
        defer { Task { await client.shutdown() } }
        let loop = Self.group.next()
        let slow = client.send(["DEBUG", "SLEEP", "0.3"], timeout: .seconds(2), on: loop)
        let started = ContinuousClock.now
        await #expect(throws: RedisError.timeout) { try await client.send(["PING"], timeout: .milliseconds(50), on: loop).get() }
        #expect(ContinuousClock.now - started < .milliseconds(250))
        #expect(try await slow.get() == .simple("OK"))
        // The late PONG was matched to the timed-out command and dropped: the next reply is the next command's.
        #expect(try await client.send(["ECHO", "after"], on: loop).get().string == "after")
    }

    /// Timed-out commands whose failure callbacks send new commands at once (the cache's lookup falls back to a lock
    /// and a fetch): the connection's queue grows while the expiry scan runs, and nothing may crash or hang.
    @Test func timeoutCallbacksThatSendCommandsDoNotDisturbTheExpiryScan() async throws {
        let server = try await RedisServer(arguments: ["--enable-debug-command", "yes"])
        let client = try await Self.client(server.port)
        let loop = Self.group.next()
        let results = try await loop.flatSubmit { () -> EventLoopFuture<[Bool]> in
            let slow = client.send(["DEBUG", "SLEEP", "0.3"], timeout: .seconds(2), on: loop)
            // 200 commands that time out together; each failure sends three more (growing the queue past its
            // capacity while the scan is under way).
            let chains = (0..<200).map { i -> EventLoopFuture<Bool> in
                client.send(["PING"], timeout: .milliseconds(30), on: loop).flatMapError { _ in
                    let more = (0..<3).map { _ in client.send(["ECHO", .string("\(i)")], timeout: .seconds(2), on: loop) }
                    return EventLoopFuture.whenAllSucceed(more, on: loop).map { _ in .pong }
                }.map { $0 == .simple("PONG") || $0 == .pong }
            }
            return slow.flatMap { _ in EventLoopFuture.whenAllSucceed(chains, on: loop) }
        }.get()
        #expect(results.count == 200 && results.allSatisfy { $0 })
        #expect(try await client.send(["PING"], on: loop).get() == .simple("PONG"))
        await client.shutdown()
    }

    @Test func unreachableAtStartIsDegradedNotFatal() async throws {
        let server = try await RedisServer()
        server.stop()
        let client = try await Self.client(server.port)
        defer { Task { await client.shutdown() } }
        #expect(client.status.degraded)
        try await server.start()
        try await waitUntil(timeout: .seconds(5)) { !client.status.degraded }
        #expect(try await client.send(["PING"]).get() == .simple("PONG"))
    }

    @Test func clusterRoutesByKeyAndFollowsAskAndMovedDuringASlotMigration() async throws {
        let cluster = try await RedisClusterFixture()
        var settings = RedisSettings(topology: .cluster(cluster.ports.map { RedisNode(host: "127.0.0.1", port: $0) }))
        settings.backoffBase = .milliseconds(20)
        let client = try RedisClient(settings: settings, group: Self.group, logger: Logger(label: "redis-cluster-test"))
        try await client.start()
        defer { Task { await client.shutdown() } }
        for key in ["foo", "{user1000}.following", "user1000", "a{}b", "{}x", "x{y", "ключ", "{a}{b}"] {
            #expect(try await cluster.nodes[0].cli("CLUSTER", "KEYSLOT", key) == String(RedisHashSlot.slot(of: key)), "\(key)")
        }
        #expect(RedisHashSlot.slot(of: "{user1000}.following") == RedisHashSlot.slot(of: "user1000"))
        for i in 0..<200 { _ = try await client.send(["SET", .string("key\(i)"), .string("v\(i)")], key: "key\(i)").get() }
        for i in 0..<200 { #expect(try await client.send(["GET", .string("key\(i)")], key: "key\(i)").get().string == "v\(i)") }
        // Every node got some of them: the client routed by slot, not all to one node.
        for node in cluster.nodes { #expect(Int(try await node.cli("DBSIZE")) ?? 0 > 20) }
        // Scripts with keys that share a hash tag run on the tag's node.
        let script = RedisScript("redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return redis.call('GET', KEYS[2])")
        #expect(try await client.run(script, keys: ["{br:api}:a", "{br:api}:b"], arguments: ["z"]).get().string == "z")

        // Migrate the slot of "{m}key" to another node, by hand, as redis-cli --cluster reshard does.
        let key = "{m}key"
        let slot = RedisHashSlot.slot(of: key)
        _ = try await client.send(["SET", .string(key), "before"], key: key).get()
        let source = try await cluster.owner(of: slot)
        let target = cluster.nodes.first { $0.port != source.port }!
        let sourceID = try await cluster.id(of: source)
        let targetID = try await cluster.id(of: target)
        try await target.cli("CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", sourceID)
        try await source.cli("CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", targetID)
        try await source.cli("MIGRATE", "127.0.0.1", "\(target.port)", "", "0", "5000", "KEYS", key)
        // The key has moved but the slot has not: the source answers ASK, and the client asks the target.
        #expect(try await client.send(["GET", .string(key)], key: key).get().string == "before")
        for node in cluster.nodes { try await node.cli("CLUSTER", "SETSLOT", "\(slot)", "NODE", targetID) }
        // Now the source answers MOVED, and the client follows and remembers.
        _ = try await client.send(["SET", .string(key), "after"], key: key).get()
        #expect(try await target.cli("GET", key) == "after")
        #expect(try await client.send(["GET", .string(key)], key: key).get().string == "after")
    }

    @Test func tlsToRedisVerifiesTheServersCertificate() async throws {
        let certs = try await TestCertificates()
        defer { certs.remove() }
        let server = try await certs.issue("redis", dnsNames: ["redis.test"])
        let tlsPort = try freeLoopbackPort()
        let redis = try await RedisServer(arguments: [
            "--tls-port", "\(tlsPort)", "--tls-cert-file", server.cert, "--tls-key-file", server.key, "--tls-ca-cert-file", certs.caPath,
            "--tls-auth-clients", "no",
        ])
        _ = redis
        var trusted = TLSConfiguration.makeClientConfiguration()
        trusted.trustRoots = .file(certs.caPath)
        let client = try await Self.client(tlsPort) {
            $0.tls = trusted
            $0.tlsServerName = "redis.test"
        }
        #expect(try await client.send(["PING"]).get() == .simple("PONG"))
        #expect(!client.status.degraded)
        await client.shutdown()
        // The system's roots do not know the test CA: no connection, degraded, and the reason says why.
        let untrusted = try await Self.client(tlsPort) {
            $0.tls = .makeClientConfiguration()
            $0.tlsServerName = "redis.test"
        }
        #expect(untrusted.status.degraded)
        #expect(untrusted.status.reason?.contains("handshake") == true, "\(untrusted.status.reason ?? "")")
        await #expect(throws: RedisError.self) { try await untrusted.send(["PING"]).get() }
        await untrusted.shutdown()
    }
}

/// What the real binary does with Redis at start.
@Suite struct RedisStartupTests {
    @Test func aWrongRedisPasswordStopsTheStartWithTheReason() async throws {
        let redis = try await RedisServer(arguments: ["--requirepass", "s3cret"])
        let m = try MeridianProcess(config: """
            listeners: [{name: http, address: "127.0.0.1:0"}]
            admin: {address: "127.0.0.1:0"}
            redis: {url: "redis://:wrong@127.0.0.1:\(redis.port)"}
            """)
        #expect(await m.waitForExit(timeout: .seconds(20)) == 1)
        #expect(m.log.contains("meridian could not start"))
        #expect(m.log.contains("AUTH: WRONGPASS"))
        #expect(m.log.contains("check redis.username and redis.password"))
    }

    @Test func anUnreachableRedisStartsDegradedAndReady() async throws {
        let redis = try await RedisServer()
        redis.stop()
        let m = try MeridianProcess(config: """
            listeners: [{name: http, address: "127.0.0.1:0"}]
            admin: {address: "127.0.0.1:0"}
            logging: {level: info}
            redis: {url: "redis://127.0.0.1:\(redis.port)"}
            """)
        let admin = try await m.port(of: "admin")
        try await m.waitForLog("redis degraded")
        // Ready once startup has finished, which on a loaded machine can come a moment after the first failed connect
        // is logged (a clean-clone run read 503 right after the log line).
        var ready = try await RawClient.exchange(port: admin, "GET /readyz?verbose HTTP/1.1\r\nHost: x\r\n\r\n")
        let until = ContinuousClock.now + .seconds(10)
        while ready.status != 200, ContinuousClock.now < until {
            try await Task.sleep(for: .milliseconds(50))
            ready = try await RawClient.exchange(port: admin, "GET /readyz?verbose HTTP/1.1\r\nHost: x\r\n\r\n")
        }
        #expect(ready.status == 200, "\(ready.text)")
        #expect(ready.text.contains("[+]redis degraded: 127.0.0.1:\(redis.port): connection refused"), "\(ready.text)")
        m.signal(SIGTERM)
        _ = await m.waitForExit()
    }
}

extension RedisValue {
    /// A marker for the test above: the chain ended through its fallback commands.
    fileprivate static let pong = RedisValue.simple("fallback")
}
