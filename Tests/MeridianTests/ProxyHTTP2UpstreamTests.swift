import Foundation
import NIOCore
import NIOPosix
import Testing

/// HTTP/2 to upstreams (`protocol: http2`): `nghttpd` (nghttp2's server, a real peer) is the
/// upstream, sending gRPC-style trailers; they reach HTTP/2 clients as a trailing HEADERS frame and
/// HTTP/1.1 clients in the chunked trailer section; request trailers go the other way.
@Suite struct ProxyHTTP2UpstreamTests {
    /// A port nothing listens on right now (bound and released), for a server that cannot take 0.
    static func freePort() async throws -> Int {
        let group = MultiThreadedEventLoopGroup.singleton
        let channel = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    @Test func trailersPassBothWaysThroughAnHTTP2Upstream() async throws {
        let docs = FileManager.default.temporaryDirectory.appendingPathComponent("nghttpd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: docs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: docs) }
        try Data(String(repeating: "grpc-ish body ", count: 1000).utf8).write(to: docs.appendingPathComponent("rpc"))
        let port = try await Self.freePort()
        // Debian puts it in /usr/sbin, which a non-root PATH may lack.
        let nghttpd = FileManager.default.isExecutableFile(atPath: "/usr/sbin/nghttpd") ? "/usr/sbin/nghttpd" : "nghttpd"
        let upstream = try ChildProcess(
            [nghttpd, "--no-tls", "-v", "-d", docs.path, "--trailer", "grpc-status: 0", "--trailer", "grpc-message: fine", String(port)]
        )
        let log = OutputCollector(upstream.output)
        defer {
            upstream.signal(SIGKILL)
            upstream.waitUntilExit()
        }
        let listening = try await eventually {
            guard let c = try? await RawClient.connect(port: port) else { return false }
            await c.close()
            return true
        }
        #expect(listening)
        let yaml = """
            listeners:
              - name: http
                address: 127.0.0.1:0
                http2: {h2c: true}
            upstreams:
              - name: grpc
                endpoints: [127.0.0.1:\(port)]
                protocol: http2
            hosts:
              - default: true
                routes:
                  - match: {prefix: /}
                    proxy: grpc
            """
        try await withTestServer(yaml) { server in
            let base = "http://127.0.0.1:\(server.port)"
            // An HTTP/2 client: the trailers arrive in a HEADERS frame after the DATA.
            let (code, out) = try await Subprocess.run("nghttp", ["-v", "--trailer", "x-request-trailer: yes", "-d", "/etc/hostname", "\(base)/rpc"])
            #expect(code == 0, "\(out)")
            let body = try #require(out.range(of: "grpc-ish body"))
            let trailer = try #require(out.range(of: "grpc-status: 0", range: body.upperBound..<out.endIndex), "\(out.suffix(1500))")
            #expect(out[trailer.upperBound...].contains("grpc-message: fine"))
            // The request's trailer reached the upstream.
            #expect(try await eventually { log.text.contains("x-request-trailer: yes") }, "\(log.text.suffix(2000))")
            // An HTTP/1.1 client: nghttpd declares a Content-Length, which HTTP/1.1 keeps, and a
            // body framed by length has no trailer section (RFC 9112 §7.1.2): the body, whole, only.
            let (_, raw) = try await Subprocess.run("curl", ["-sS", "--raw", "--http1.1", "-D", "-", "\(base)/rpc"])
            #expect(raw.contains("content-length: 14000"))
            #expect(!raw.contains("grpc-status"), "\(raw.suffix(200))")
            // Several requests share one upstream connection (streams on it).
            async let a = Subprocess.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "\(base)/rpc"])
            async let b = Subprocess.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "\(base)/rpc"])
            let (ra, rb) = try await (a, b)
            #expect(ra.1 == "200" && rb.1 == "200")
        }
    }
}

/// Collects a child's output as it comes (nghttpd keeps writing while the test runs).
final class OutputCollector: @unchecked Sendable {  // `buffer` only under `lock`
    private let lock = NSLock()
    private var buffer = ""
    private var ended = false

    init(_ handle: FileHandle) {
        Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                self.lock.lock()
                self.buffer += String(decoding: data, as: UTF8.self)
                self.lock.unlock()
            }
            self.lock.lock()
            self.ended = true
            self.lock.unlock()
        }.start()
    }

    /// Whether the child closed its output (it exited): ``text`` is then all it will ever print.
    var isFinished: Bool {
        lock.lock()
        defer { lock.unlock() }
        return ended
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return buffer
    }
}
