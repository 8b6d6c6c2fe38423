import Foundation
import Testing

/// Shutdown over HTTP/2: connections get GOAWAY, open streams finish, then the server stops.
@Suite struct HTTP2DrainTests {
    @Test func gracefulShutdownSendsGoawayAndLetsOpenStreamsFinish() async throws {
        let fixture = try await TLSFixture.start(extra: "lifecycle: {drain_delay: 0s, shutdown_timeout: 30s}")
        let (certs, server) = (fixture.certs, fixture.server)
        defer { certs.remove() }
        let size = 6_000_000
        try Data(count: size).write(to: server.directory.appendingPathComponent("big.bin"))

        // An idle HTTP/2 connection: it must be told to go away.
        let idle = try await RawClient.connect(port: server.port, tls: .init(serverName: "a.test", caPath: certs.caPath, alpn: ["h2"]))
        _ = try await idle.handshake()
        try await idle.send(bytes: H2.clientStart + H2.frame(.settings, flags: H2.Flags.ack, stream: 0))

        // A slow download in flight.
        let out = server.directory.appendingPathComponent("out.bin")
        let curl = try ChildProcess(
            ["curl", "-sS", "--http2", "--limit-rate", "3M", "--cacert", certs.caPath, "--resolve", "a.test:\(server.port):127.0.0.1",
             "-o", out.path, "https://a.test:\(server.port)/big.bin"]
        )
        var started = false
        for _ in 0..<200 where !started {
            started = ((try? FileManager.default.attributesOfItem(atPath: out.path)[.size] as? Int) ?? 0) > 0
            if !started { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(started)

        let shutdown = Task { await server.app.shutdown(.graceful) }
        // Behave like a real client on the idle connection: acknowledge the server's PINGs (its
        // connection manager pings after the first GOAWAY to learn the last stream to serve).
        var acked = 0
        for _ in 0..<500 {
            let pings = H2.parse(idle.pending).filter { $0.type == H2.FrameType.ping.rawValue && $0.flags & H2.Flags.ack == 0 }
            for ping in pings.dropFirst(acked) { try? await idle.send(bytes: H2.frame(.ping, flags: H2.Flags.ack, stream: 0, ping.payload)) }
            acked = pings.count
            if await idle.waitForClose(timeout: .milliseconds(20)) { break }
        }
        _ = await shutdown.value
        curl.waitUntilExit()
        #expect(curl.terminationStatus == 0)
        #expect((try FileManager.default.attributesOfItem(atPath: out.path)[.size] as? Int) == size)

        #expect(await idle.waitForClose())
        let goaway = H2.parse(idle.pending).first { $0.type == H2.FrameType.goaway.rawValue }
        #expect(goaway?.errorCode == H2.ErrorCode.noError.rawValue)
        try? FileManager.default.removeItem(at: server.directory)
    }
}
