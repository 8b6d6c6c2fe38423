#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// DNS names are resolved again on the cluster's `resolve_interval`, off the event loops, by the system resolver: an
/// endpoint whose name did not resolve at start answers 502, and serves once the name resolves. The name is a line
/// appended to /etc/hosts for the test (glibc reads the file on every lookup) and cut off again with one `ftruncate`,
/// so a lookup by a test running alongside sees the file with or without the line, never a partial one. Skipped
/// where /etc/hosts cannot be written (CI runs as root).
@Suite struct ProxyResolveTests {
    @Test(.enabled(if: access("/etc/hosts", W_OK) == 0, "needs a writable /etc/hosts (root)"))
    func aNameThatStartsResolvingIsUsedAfterTheInterval() async throws {
        let name = "meridian-resolve-\(UUID().uuidString.prefix(8).lowercased()).test"
        let upstreamYAML = """
            hosts:
              - default: true
                routes:
                  - match: {prefix: /}
                    respond: {status: 200, body: "resolved\\n"}
            """
        try await withTestServer(upstreamYAML) { upstream in
            let proxyYAML = """
                upstreams:
                  - name: api
                    endpoints: ["\(name):\(upstream.port)"]
                    resolve_interval: 1s
                    retries: {max: 0}
                    outlier_detection: {enabled: false}
                    circuit_breaker: {enabled: false}
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /}
                        proxy: api
                """
            // (No ejection or breaker: the 502s before the name resolves must not take the endpoint out.)
            try await withTestServer(proxyYAML) { proxy in
                let before = try await proxy.get("/x").status
                #expect(before == 502)  // the name did not resolve: nothing to connect to
                // Past the resolver's first pass (a second after start): what follows is its work on the interval.
                try await Task.sleep(for: .milliseconds(1500))

                let line = try HostsLine(address: "127.0.0.1", name: name)
                defer { line.remove() }
                var status = 0
                var text = ""
                // The resolver looks every second and the interval is 1 s: the name is in use within ~2 s (20 s allowed, for a loaded CI machine).
                for _ in 0..<80 {
                    let r = try await proxy.get("/x")
                    (status, text) = (r.status, r.text)
                    if status == 200 { break }
                    try await Task.sleep(for: .milliseconds(250))
                }
                #expect(status == 200)
                #expect(text == "resolved\n")
            }
        }
    }
}

/// A line appended to /etc/hosts, removed by cutting the file back to its length before (one `ftruncate`).
private struct HostsLine {
    let length: off_t

    init(address: String, name: String) throws {
        let fd = open("/etc/hosts", O_WRONLY | O_APPEND)
        guard fd >= 0 else { throw POSIXError(.EACCES) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw POSIXError(.EIO) }
        length = st.st_size
        let bytes = Array("\(address) \(name)\n".utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw POSIXError(.EIO) }
    }

    func remove() {
        _ = truncate("/etc/hosts", length)
    }
}
