import Foundation
import Testing

/// Signals on the real binary: SIGHUP reloads (a bad file keeps the old config), SIGTERM drains
/// with the slow request finishing, new connections refused and exit code 0.
@Suite(.serialized) struct LifecycleTests {
    static func config(body: String, drain: String = "300ms") -> String {
        """
        listeners:
          - name: http
            address: 127.0.0.1:0
        admin:
          address: 127.0.0.1:0
        lifecycle:
          drain_delay: \(drain)
          shutdown_timeout: 20s
        logging: {level: info}
        hosts:
          - default: true
            routes:
              - match: {path: /version}
                respond: {status: 200, body: "\(body)"}
              - match: {prefix: /}
                static: {root: "{{root}}"}
        """
    }

    @Test func sighupReloadsAGoodFileAndKeepsTheOldOnABadOne() async throws {
        let m = try MeridianProcess(config: Self.config(body: "one"))
        let port = try await m.port(of: "http")
        #expect(try await get(port, "/version").text == "one")

        try m.writeConfig(Self.config(body: "two"))
        var mark = m.log.count
        m.signal(SIGHUP)
        try await m.waitForLog("configuration reloaded", after: mark)
        #expect(try await get(port, "/version").text == "two")

        try m.writeConfig(Self.config(body: "three") + "\nbogus_key: 1\nlimits: {max_header_count: 0}\n")
        mark = m.log.count
        m.signal(SIGHUP)
        try await m.waitForLog("configuration reload failed", after: mark)
        let failure = String(m.log.dropFirst(mark))
        #expect(failure.contains("meridian.yaml:"))
        #expect(failure.contains("limits.max_header_count"))
        #expect(failure.contains("bogus_key: unknown key"))
        #expect(try await get(port, "/version").text == "two")

        m.signal(SIGTERM)
        #expect(await m.waitForExit() == 0)
    }

    @Test func sigtermDrainsTheSlowRequestRefusesNewOnesAndExitsZero() async throws {
        let size = 64 * 1024 * 1024
        let m = try MeridianProcess(config: Self.config(body: "v", drain: "500ms"))
        try Data(count: size).write(to: m.directory.appendingPathComponent("big.bin"))
        let port = try await m.port(of: "http")
        let adminPort = try await m.port(of: "admin")
        #expect(try await get(adminPort, "/readyz").status == 200)

        // A slow reader: the server cannot finish writing 64 MiB until the client reads it.
        let slow = try await RawClient.connect(port: port)
        try await slow.channel.setOption(.autoRead, value: false).get()
        try await slow.send("GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")

        m.signal(SIGTERM)
        try await m.waitForLog("shutdown started")
        let notReady = try await get(adminPort, "/readyz?verbose")
        #expect(notReady.status == 503)
        #expect(notReady.text.contains("[-]shutdown failed: shutting down"))

        // After the drain delay the listener closes: new connections are refused.
        var refused = false
        for _ in 0..<200 where !refused {
            do {
                let c = try await RawClient.connect(port: port)
                await c.close()
                try await Task.sleep(for: .milliseconds(25))
            } catch {
                refused = true
            }
        }
        #expect(refused)
        #expect(m.process.isRunning, "exited with a request still in flight")

        // The slow client now reads everything: the response completes in full.
        try await slow.channel.setOption(.autoRead, value: true).get()
        slow.channel.read()
        let response = try await slow.readResponse(timeout: .seconds(60))
        #expect(response.status == 200)
        #expect(response.body.count == size)
        #expect(await m.waitForExit() == 0)
        #expect(m.log.contains("\"in_flight_finished\":\"true\""))
    }

    @Test func sigintShutsDownWithoutTheDrainDelay() async throws {
        let m = try MeridianProcess(config: Self.config(body: "v", drain: "30s"))
        _ = try await m.port(of: "http")
        let started = ContinuousClock.now
        m.signal(SIGINT)
        #expect(await m.waitForExit() == 0)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func startupFailsClearlyWhenThePortIsTaken() async throws {
        // The holder binds without SO_REUSEPORT, so nobody can share its port. (Two instances that
        // both use reuse_port may share one, as nginx's do: that is how a restart overlaps.)
        let holder = try MeridianProcess(config: Self.config(body: "v").replacingOccurrences(of: "address: 127.0.0.1:0\nadmin", with: "address: 127.0.0.1:0\n    reuse_port: false\nadmin"))
        let port = try await holder.port(of: "http")
        let (code, output) = try await MeridianProcess.run(["serve", "--listen", "127.0.0.1:\(port)", "--admin", "127.0.0.1:0"], environment: ["MERIDIAN_EVENT_LOOPS": "1"])
        #expect(code == 1)
        #expect(output.contains("could not start"))
        holder.signal(SIGINT)
        #expect(await holder.waitForExit() == 0)
    }
}

func get(_ port: Int, _ path: String) async throws -> TestResponse {
    try await RawClient.exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n")
}
