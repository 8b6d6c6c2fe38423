import Foundation
import Testing

/// HTTP/2 over TLS with real clients (curl and nghttp): the same routes, static files, ranges and
/// conditionals as HTTP/1.1, many streams on one connection, flow-controlled large bodies.
@Suite struct HTTP2Tests {
    static func run(_ tool: String, _ args: [String]) async throws -> (Int32, String) {
        try await Subprocess.run(tool, args)
    }

    func withFixture<T>(files: [String: String] = [:], _ body: (TLSFixture) async throws -> T) async throws -> T {
        try await withTLSFixture(http2: "max_concurrent_streams: 50", files: files, body)
    }

    @Test func curlSpeaksHTTP2WithRangesAndConditionals() async throws {
        try await withFixture(files: ["a.txt": "0123456789"]) { f in
            let (code, out) = try await Self.run("curl", f.curlBase + ["-i", "\(f.base)/a.txt"])
            #expect(code == 0)
            #expect(out.hasPrefix("HTTP/2 200"))
            #expect(out.contains("x-request-id: ") && out.contains("content-length: 10") && out.hasSuffix("0123456789"))
            let (_, range) = try await Self.run("curl", f.curlBase + ["-r", "3-5", "-w", " %{http_code} %{http_version}", "\(f.base)/a.txt"])
            #expect(range == "345 206 2")
            let etag = try #require(out.split(separator: "\r\n").first { $0.hasPrefix("etag:") }.map { String($0.dropFirst(6)) })
            let (_, notModified) = try await Self.run("curl", f.curlBase + ["-o", "/dev/null", "-w", "%{http_code}", "-H", "If-None-Match: \(etag)", "\(f.base)/a.txt"])
            #expect(notModified == "304")
            let (_, head) = try await Self.run("curl", f.curlBase + ["-I", "\(f.base)/a.txt"])
            #expect(head.hasPrefix("HTTP/2 200") && head.contains("content-length: 10"))
            let (_, missing) = try await Self.run("curl", f.curlBase + ["-o", "/dev/null", "-w", "%{http_code}", "\(f.base)/nope"])
            #expect(missing == "404")
        }
    }

    @Test func largeBodyIsFlowControlledAndComplete() async throws {
        try await withFixture { f in
            var bytes = [UInt8](repeating: 0, count: 5_000_000)
            for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 13 &+ 7) }
            try Data(bytes).write(to: f.server.directory.appendingPathComponent("big.bin"))
            let out = f.server.directory.appendingPathComponent("download.bin")
            // A slow reader: curl limits its own rate, so the server must wait on the flow-control window.
            let (code, text) = try await Self.run("curl", f.curlBase + ["--limit-rate", "20M", "-o", out.path, "-w", "%{http_version}", "\(f.base)/big.bin"])
            #expect(code == 0 && text == "2")
            #expect(try Data(contentsOf: out) == Data(bytes))
        }
    }

    @Test func nghttpManyConcurrentStreamsOnOneConnection() async throws {
        try await withFixture(files: ["a.txt": "A", "b.txt": "B"]) { f in
            var args = ["-n", "-s", "-m", "20"]
            args.append("https://127.0.0.1:\(f.server.port)/a.txt")
            let (code, out) = try await Self.run("nghttp", args)
            #expect(code == 0, "\(out)")
            // nghttp -s prints one stats line per stream with its status.
            let statusLines = out.split(separator: "\n").filter { $0.contains("/a.txt") }
            #expect(statusLines.count == 20, "\(out)")
            #expect(statusLines.allSatisfy { $0.contains("200") }, "\(out)")
        }
    }
}

/// h2c with prior knowledge on a plaintext listener, next to HTTP/1.1 on the same port.
@Suite struct H2CTests {
    @Test func priorKnowledgeAndHTTP1ShareThePort() async throws {
        try await withTestServer(
            """
            listeners:
              - name: http
                address: 127.0.0.1:0
                http2: {h2c: true, ping_interval: 10s}
            """, files: ["a.txt": "plain"]) { s in
            let base = "http://127.0.0.1:\(s.port)"
            let (code, out) = try await HTTP2Tests.run("curl", ["-sS", "--http2-prior-knowledge", "-w", " %{http_version}", "\(base)/a.txt"])
            #expect(code == 0 && out == "plain 2")
            let (_, h1) = try await HTTP2Tests.run("curl", ["-sS", "--http1.1", "-w", " %{http_version}", "\(base)/a.txt"])
            #expect(h1 == "plain 1.1")
            // POST and PUT also start with P: the handler must not mistake them for the preface.
            let (_, post) = try await HTTP2Tests.run("curl", ["-sS", "--http1.1", "-X", "POST", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "\(base)/a.txt"])
            #expect(post == "405 1.1")
            let (nghttpCode, nghttpOut) = try await HTTP2Tests.run("nghttp", ["-n", "-s", "-m", "5", "\(base)/a.txt"])
            #expect(nghttpCode == 0)
            #expect(nghttpOut.split(separator: "\n").filter { $0.contains("/a.txt") && $0.contains("200") }.count == 5, "\(nghttpOut)")
        }
    }

    @Test func withoutH2CThePrefaceIsRefused() async throws {
        try await withTestServer(files: ["a.txt": "plain"]) { s in
            let (_, out) = try await HTTP2Tests.run("curl", ["-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(s.port)/a.txt"])
            #expect(out != "200")
        }
    }
}

/// Virtual hosts over HTTP/2: `:authority` picks the host as Host does over HTTP/1.1.
@Suite struct HTTP2VirtualHostTests {
    @Test func authorityPicksTheHost() async throws {
        try await withTLSFixture(extra: """
            hosts:
              - names: [a.test]
                routes: [{match: {prefix: /}, respond: {body: "host a"}}]
              - default: true
                routes: [{match: {prefix: /}, respond: {body: "default"}}]
            """) { f in
            let (_, a) = try await Subprocess.run("curl", f.curlBase + ["-w", " %{http_version}", "\(f.base)/"])
            #expect(a == "host a 2")
            let (_, other) = try await Subprocess.run("curl", f.curlBase + ["-w", " %{http_version}", "-H", "Host: other.test", "\(f.base)/"])
            #expect(other == "default 2")
        }
    }
}

/// Request bodies over HTTP/2: flow-control credit is returned for discarded bodies (on the
/// connection and the stream), and the body limit answers 413.
@Suite struct HTTP2RequestBodyTests {
    @Test func largeUploadsDoNotStallTheConnection() async throws {
        try await withTLSFixture(extra: """
            limits: {max_body_bytes: 4MiB}
            hosts:
              - default: true
                routes: [{match: {prefix: /}, respond: {body: "got it"}}]
            """) { f in
            let upload = f.server.directory.appendingPathComponent("upload.bin")
            try Data(count: 1_000_000).write(to: upload)
            // Three 1 MB uploads on one connection: past the 64 KiB initial windows, each needs the
            // credit the server returns for the bodies it discards. (h2load and nghttp as clients:
            // curl before 8.1.1 never finishes an h2 upload once the response came first and the
            // stream was reset with NO_ERROR, nginx's answer as well as ours: curl/curl#11157.)
            let (code, out) = try await Subprocess.run("h2load", ["-n", "3", "-c", "1", "-d", upload.path, "https://127.0.0.1:\(f.server.port)/a"])
            #expect(code == 0, "\(out)")
            #expect(out.contains("3 succeeded") && out.contains("3 2xx"), "\(out)")
            let (nghttpCode, nghttpOut) = try await Subprocess.run("nghttp", ["-d", upload.path, "https://127.0.0.1:\(f.server.port)/b"])
            #expect(nghttpCode == 0 && nghttpOut.contains("got it"), "\(nghttpOut)")
            try Data(count: 5_000_000).write(to: upload)
            let (_, tooBig) = try await Subprocess.run("h2load", ["-n", "1", "-c", "1", "-d", upload.path, "https://127.0.0.1:\(f.server.port)/c"])
            #expect(tooBig.contains("1 4xx"), "\(tooBig)")
        }
    }
}
