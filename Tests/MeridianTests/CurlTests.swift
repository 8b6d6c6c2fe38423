import Foundation
import Testing

/// curl as the real-world client: keep-alive reuse, ranges and conditionals as curl sends them.
@Suite struct CurlTests {
    static func curl(_ args: [String]) async throws -> (Int32, String) {
        try await Subprocess.run("curl", ["-sS", "--max-time", "20"] + args)
    }

    @Test func curlReusesTheConnectionAndGetsRangesAnd304() async throws {
        try await withTestServer(files: ["a.txt": "0123456789", "b.txt": "bee"]) { s in
            let base = "http://127.0.0.1:\(s.port)"
            let (code, out) = try await Self.curl(["-v", "\(base)/a.txt", "\(base)/b.txt"])
            #expect(code == 0)
            #expect(out.contains("0123456789") && out.contains("bee"))
            #expect(out.contains("Re-using existing connection") || out.contains("Reusing existing connection"))

            let (_, range) = try await Self.curl(["-r", "2-4", "\(base)/a.txt"])
            #expect(range == "234")

            let (_, head) = try await Self.curl(["-sI", "\(base)/a.txt"])
            let etag = try #require(head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") }?.dropFirst(5).trimmingCharacters(in: .whitespaces))
            let (_, status) = try await Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", "If-None-Match: \(etag)", "\(base)/a.txt"])
            #expect(status == "304")

            let (_, encoded) = try await Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "\(base)/..%2f..%2fetc/passwd"])
            #expect(encoded == "400")
        }
    }
}
