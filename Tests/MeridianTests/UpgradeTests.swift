import Foundation
import MeridianConfig
import NIOCore
import Testing

@testable import MeridianCore

/// Switching protocols through the request layer: HTTP/1.1 `101` + Upgrade (RFC 9110 §7.8) and
/// HTTP/2 extended CONNECT (RFC 8441), both handing the installer the same byte pipe, tested with
/// a small echo protocol. Upgraded connections are counted, survive a reload and take part in
/// drain.
@Suite struct UpgradeTests {
    static let routes: [(String, any Responder)] = [("/echo", EchoUpgrade()), ("/body", BodyEcho())]
    static let upgradeRequest = "GET /echo HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"

    @Test func http1SwitchesAndTheInstallerGetsTheConnection() async throws {
        try await withLayerServer(Self.routes) { s in
            let c = try await RawClient.connect(port: s.port)
            // Bytes sent right behind the request (before the 101) are the pipe's first read.
            try await c.send(Self.upgradeRequest + "early")
            let head = try await c.readResponse(head: true)
            #expect(head.status == 101)
            #expect(head.header("connection")?.lowercased() == "upgrade")
            #expect(head.header("upgrade") == "echo")
            #expect(head.header("x-echo") == "1")
            #expect(head.header("content-length") == nil && head.header("transfer-encoding") == nil)
            _ = try await c.waitFor("early")
            try await c.send("hello")
            _ = try await c.waitFor("earlyhello")
            #expect(s.services.openUpgraded.load(ordering: .relaxed) == 1)
            #expect(s.services.openHTTP1.load(ordering: .relaxed) == 0)
            // A reload changes nothing for the upgraded connection.
            s.box.replace(with: LayerServer.runtime([], limits: .init(), timeouts: .init()))
            try await c.send("again")
            _ = try await c.waitFor("earlyhelloagain")
            try await c.send("bye")
            #expect(await c.waitForClose())
            try await waitUntil { s.services.openUpgraded.load(ordering: .relaxed) == 0 }
            #expect(s.services.totalUpgraded.load(ordering: .relaxed) == 1)
        }
    }

    @Test func aRequestThatDidNotAskIsNotSwitched() async throws {
        try await withLayerServer(Self.routes) { s in
            let c = try await RawClient.connect(port: s.port)
            try await c.send("GET /echo HTTP/1.1\r\nHost: a\r\n\r\n")
            let r = try await c.readResponse()
            #expect(r.status == 426)
            // Upgrade without `Connection: upgrade` is not a request to switch (RFC 9110 §7.8).
            try await c.send("GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: echo\r\n\r\n")
            #expect(try await c.readResponse().status == 426)
            // HTTP/1.0 cannot upgrade.
            try await c.send("GET /echo HTTP/1.0\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
            #expect(try await c.readResponse().status == 426)
            await c.close()
        }
    }

    @Test func aSwitchNobodyAskedForIsA500OnBothProtocols() async throws {
        try await withLayerServer([("/", AlwaysSwitch())]) { s in
            let c = try await RawClient.connect(port: s.port)
            try await c.send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await c.readResponse().status == 500)
            // Asked for another protocol than the one answered: refused too.
            try await c.send("GET /x HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
            #expect(try await c.readResponse().status == 500)
            await c.close()

            let h = try await RawClient.connect(port: s.port)
            try await h.send(bytes: H2.clientStart + H2.frame(.settings, flags: H2.Flags.ack, stream: 0) + H2.request(stream: 1, path: "/x"))
            let frames = try await collectFrames(h) { $0.contains { $0.type == H2.FrameType.headers.rawValue && $0.stream == 1 } }
            var reader = H2HeaderReader()
            #expect(try reader.headers(frames).first { $0.stream == 1 }?.fields.first { $0.0 == ":status" }?.1 == "500")
            #expect(s.services.totalUpgraded.load(ordering: .relaxed) == 0 && s.services.totalUpgradedStreams.load(ordering: .relaxed) == 0)
            await h.close()
        }
    }

    @Test func drainAsksTheProtocolToCloseInItsOwnWay() async throws {
        try await withLayerServer(Self.routes) { s in
            let c = try await RawClient.connect(port: s.port)
            try await c.send(Self.upgradeRequest)
            #expect(try await c.readResponse(head: true).status == 101)
            let drained = Task { await s.server.drain(deadline: .now() + .seconds(5)) }
            _ = try await c.waitFor("draining")
            #expect(await c.waitForClose())
            #expect(await drained.value)
        }
    }

    @Test func curlSeesTheSwitch() async throws {
        try await withLayerServer(Self.routes) { s in
            let (code, out) = try await Subprocess.run(
                "curl", ["-sS", "-v", "--http1.1", "--max-time", "2", "-H", "Connection: Upgrade", "-H", "Upgrade: echo", "http://127.0.0.1:\(s.port)/echo"]
            )
            // curl 7.88 switches only to h2c and WebSocket: it shows the 101 and then waits on the
            // switched connection until its timeout (exit 28).
            #expect(out.contains("< HTTP/1.1 101 Switching Protocols"), "\(code): \(out)")
            #expect(out.lowercased().contains("< upgrade: echo") && out.lowercased().contains("< connection: upgrade"))
        }
    }

    @Test func http2ExtendedConnectGivesTheInstallerTheStream() async throws {
        try await withLayerServer(Self.routes) { s in
            let c = try await RawClient.connect(port: s.port)
            try await c.send(bytes: H2.clientStart + H2.frame(.settings, flags: H2.Flags.ack, stream: 0))
            let settings = try await collectFrames(c) { $0.contains { $0.type == H2.FrameType.settings.rawValue && $0.flags == 0 } }
            let payload = settings.first { $0.type == H2.FrameType.settings.rawValue && $0.flags == 0 }!.payload
            let pairs = stride(from: 0, to: payload.count, by: 6).map { (UInt16(payload[$0]) << 8 | UInt16(payload[$0 + 1]), H2.be32(payload, $0 + 2)) }
            #expect(pairs.contains { $0.0 == 8 && $0.1 == 1 }, "SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3)")

            let connect = H2.frame(
                .headers, flags: H2.Flags.endHeaders, stream: 1,
                H2.hpack([(":method", "CONNECT"), (":protocol", "echo"), (":scheme", "http"), (":path", "/echo"), (":authority", "a")])
            )
            try await c.send(bytes: connect + H2.data(stream: 1, "early"))
            let first = try await collectFrames(c) { H2.dataText($0, stream: 1) == "early" }
            var reader = H2HeaderReader()
            let head = try reader.headers(first).first { $0.stream == 1 }
            #expect(head?.fields.first { $0.0 == ":status" }?.1 == "200")
            #expect(head?.endStream == false)
            #expect(head?.fields.contains { $0.0 == "content-length" } == false)
            #expect(s.services.openUpgradedStreams.load(ordering: .relaxed) == 1)
            try await c.send(bytes: H2.data(stream: 1, "ping"))
            _ = try await collectFrames(c) { H2.dataText($0, stream: 1) == "earlyping" }
            // The client ends its side: the protocol sees the close; it says bye by ending ours.
            try await c.send(bytes: H2.data(stream: 1, "bye"))
            let end = try await collectFrames(c) { $0.contains { $0.type == H2.FrameType.data.rawValue && $0.stream == 1 && $0.flags & H2.Flags.endStream != 0 } }
            #expect(end.contains { $0.type == H2.FrameType.data.rawValue && $0.stream == 1 && $0.flags & H2.Flags.endStream != 0 })
            // The connection goes on serving other streams.
            try await c.send(bytes: H2.data(stream: 1, "", end: true) + H2.request(stream: 3, path: "/body", method: "POST", endStream: false) + H2.data(stream: 3, "x", end: true))
            _ = try await collectFrames(c) { H2.dataText($0, stream: 3).hasPrefix("bytes=1") }
            try await waitUntil { s.services.openUpgradedStreams.load(ordering: .relaxed) == 0 }
            await c.close()
        }
    }

    static let connectEcho = H2.frame(
        .headers, flags: H2.Flags.endHeaders, stream: 1,
        H2.hpack([(":method", "CONNECT"), (":protocol", "echo"), (":scheme", "http"), (":path", "/echo"), (":authority", "a")])
    )

    @Test func anIdleTunnelIsNotAStalledResponse() async throws {
        var timeouts = ServerTimeouts()
        timeouts.send = .milliseconds(300)
        timeouts.bodyRead = .milliseconds(300)
        try await withLayerServer(Self.routes, timeouts: timeouts) { s in
            let c = try await RawClient.connect(port: s.port)
            try await c.send(bytes: H2.clientStart + H2.frame(.settings, flags: H2.Flags.ack, stream: 0) + Self.connectEcho + H2.data(stream: 1, "a"))
            _ = try await collectFrames(c) { H2.dataText($0, stream: 1) == "a" }
            try await Task.sleep(for: .seconds(1))  // quiet for three send timeouts: the subject of the test
            try await c.send(bytes: H2.data(stream: 1, "b"))
            let frames = try await collectFrames(c) { H2.dataText($0, stream: 1) == "ab" }
            #expect(H2.dataText(frames, stream: 1) == "ab")
            #expect(H2.rst(frames, stream: 1) == nil)
            await c.close()
        }
    }

    @Test func drainAsksAnHTTP2TunnelToCloseInItsOwnWay() async throws {
        try await withLayerServer(Self.routes) { s in
            let c = try await RawClient.connect(port: s.port)
            try await c.send(bytes: H2.clientStart + H2.frame(.settings, flags: H2.Flags.ack, stream: 0) + Self.connectEcho)
            var reader = H2HeaderReader()
            _ = try await collectFrames(c) { (try? reader.headers($0).contains { $0.stream == 1 }) == true }
            let drained = Task { await s.server.drain(deadline: .now() + .seconds(5)) }
            let frames = try await collectFrames(c) { H2.dataText($0, stream: 1) == "draining" }
            #expect(H2.dataText(frames, stream: 1) == "draining")
            try await c.send(bytes: H2.data(stream: 1, "", end: true))
            _ = await drained.value
            await c.close()
        }
    }

    @Test func theLastRequestAConnectionMayServeCanStillUpgrade() async throws {
        var limits = ServerLimits()
        limits.maxRequestsPerConnection = 1
        try await withLayerServer(Self.routes, limits: limits) { s in
            let c = try await RawClient.connect(port: s.port)
            try await c.send(Self.upgradeRequest)
            #expect(try await c.readResponse(head: true).status == 101)
            try await c.send("x")
            _ = try await c.waitFor("x")
            await c.close()
        }
    }

    @Test func classicConnectAndProtocolWithoutConnectAreRefused() async throws {
        try await withLayerServer(Self.routes) { s in
            let c = try await RawClient.connect(port: s.port)
            try await c.send(bytes: H2.clientStart + H2.frame(.settings, flags: H2.Flags.ack, stream: 0))
            // A plain CONNECT (a TCP tunnel) is not served.
            try await c.send(bytes: H2.frame(.headers, flags: H2.Flags.endHeaders, stream: 1, H2.hpack([(":method", "CONNECT"), (":authority", "a:443")])))
            // :protocol on anything but CONNECT is malformed (RFC 8441 §4).
            try await c.send(bytes: H2.request(stream: 3, path: "/echo", extra: [(":protocol", "echo")]))
            let frames = try await collectFrames(c) { H2.rst($0, stream: 3) != nil && $0.contains { $0.type == H2.FrameType.headers.rawValue && $0.stream == 1 } }
            var reader = H2HeaderReader()
            #expect(try reader.headers(frames).first { $0.stream == 1 }?.fields.first { $0.0 == ":status" }?.1 == "405")
            #expect(H2.rst(frames, stream: 3) == H2.ErrorCode.protocolError.rawValue)
            await c.close()
        }
    }
}
