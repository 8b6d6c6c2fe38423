import Foundation
import Testing

/// A real WebSocket server (`Tests/tools/ws_echo.py`, the `websockets` library) on a random port.
final class WebSocketEcho: @unchecked Sendable {  // fields set once in init
    let process: ChildProcess
    let port: Int

    init() throws {
        process = try ChildProcess(["python3", TestTools.path("ws_echo.py")], mergeStderr: false)
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = process.output.availableData
            if chunk.isEmpty { throw TestError("ws_echo.py exited before printing its port (is `websockets` installed?)") }
            line.append(chunk)
        }
        guard let p = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestError("ws_echo.py printed \(String(decoding: line, as: UTF8.self))")
        }
        port = p
    }

    deinit {
        process.signal(SIGKILL)
        process.waitUntilExit()
    }
}

/// `Upgrade` through the proxy: a WebSocket echo over HTTP/1.1 with real client and server, and
/// an HTTP/2 client's extended CONNECT tunnelled to the HTTP/1.1 upstream.
@Suite struct ProxyUpgradeTests {
    static func yaml(_ endpoint: String) -> String {
        """
        listeners:
          - name: http
            address: 127.0.0.1:0
            http2: {h2c: true}
        upstreams:
          - name: ws
            endpoints: [\(endpoint)]
            timeouts: {idle: 5s}
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                proxy: ws
        """
    }

    @Test func aWebSocketEchoesThroughTheProxy() async throws {
        let upstream = try WebSocketEcho()
        try await withTestServer(Self.yaml("127.0.0.1:\(upstream.port)")) { server in
            let (code, out) = try await Subprocess.run(
                "python3", [TestTools.path("ws_client.py"), "ws://127.0.0.1:\(server.port)/chat", "hello", "wörld", String(repeating: "x", count: 100_000)]
            )
            #expect(code == 0, "\(out)")
            let lines = out.split(separator: "\n")
            #expect(lines.first == "hello")
            #expect(lines.dropFirst().first == "wörld")
            #expect(lines.last?.count == 100_000)
        }
    }

    @Test func aWebSocketFromAnHTTP2ClientReachesAnHTTP1Upstream() async throws {
        let upstream = try WebSocketEcho()
        try await withTestServer(Self.yaml("127.0.0.1:\(upstream.port)")) { server in
            let c = try await RawClient.connect(port: server.port)
            let connect = H2.frame(
                .headers, flags: H2.Flags.endHeaders, stream: 1,
                H2.hpack([
                    (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", "/chat"), (":authority", "a"),
                    ("sec-websocket-version", "13"),
                ])
            )
            try await c.send(bytes: H2.clientStart + H2.frame(.settings, flags: H2.Flags.ack, stream: 0) + connect)
            let head = try await collectFrames(c) { $0.contains { $0.type == H2.FrameType.headers.rawValue && $0.stream == 1 } }
            var reader = H2HeaderReader()
            let block = try reader.headers(head).first { $0.stream == 1 }
            let fields: [(String, String)] = block.map { $0.fields } ?? []
            #expect(fields.first { $0.0 == ":status" }?.1 == "200", "\(fields)")
            #expect(!fields.contains { $0.0 == "sec-websocket-accept" })
            // A masked text frame "hi" (RFC 6455 §5.2); the echo comes back unmasked.
            let mask: [UInt8] = [1, 2, 3, 4]
            let payload = Array("hi".utf8).enumerated().map { $1 ^ mask[$0 % 4] }
            try await c.send(bytes: H2.frame(.data, stream: 1, [0x81, 0x82] + mask + payload))
            let echoed = try await collectFrames(c) { H2.dataText($0, stream: 1).contains("hi") }
            let bytes = echoed.filter { $0.type == H2.FrameType.data.rawValue && $0.stream == 1 }.flatMap(\.payload)
            #expect(Array(bytes.prefix(4)) == [0x81, 0x02] + Array("hi".utf8))
            await c.close()
        }
    }

    @Test func anUpstreamThatRefusesTheUpgradeAnswersNormally() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.yaml(ups[0].address)) { server in
                let r = try await server.get("/status/426", headers: ["Connection": "upgrade", "Upgrade": "websocket"])
                #expect(r.status == 426)
                #expect(ups[0].stats.withLockedValue { $0.lastHeaders }.contains { $0.0.lowercased() == "upgrade" && $0.1 == "websocket" })
            }
        }
    }
}
