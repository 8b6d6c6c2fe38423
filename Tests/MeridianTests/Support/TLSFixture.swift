import Foundation

/// A TestServer with one TLS listener (`https`) whose certificate for `a.test` comes from a fresh
/// test CA: what the HTTP/2 suites share.
struct TLSFixture {
    let certs: TestCertificates
    let server: TestServer

    /// `http2` is the inline body of the listener's `http2:` mapping; `extra` is appended at the top level.
    static func start(http2: String = "", extra: String = "", files: [String: String] = [:]) async throws -> TLSFixture {
        let certs = try await TestCertificates()
        try await certs.issue("a", dnsNames: ["a.test"])
        let server = try await TestServer.start(
            """
            listeners:
              - name: https
                address: 127.0.0.1:0
                tls:
                  certificates: [{cert: \(certs.cert("a")), key: \(certs.key("a"))}]
                http2: {\(http2)}
            \(extra)
            """, files: files)
        return TLSFixture(certs: certs, server: server)
    }

    var base: String { "https://a.test:\(server.port)" }
    var curlBase: [String] { ["-sS", "--max-time", "30", "--http2", "--cacert", certs.caPath, "--resolve", "a.test:\(server.port):127.0.0.1"] }

    func stop() async {
        await server.stop()
        certs.remove()
    }
}

/// Starts a `TLSFixture` for `body` and stops it (awaited) however `body` ends.
func withTLSFixture<T>(
    http2: String = "", extra: String = "", files: [String: String] = [:],
    _ body: (TLSFixture) async throws -> T
) async throws -> T {
    let fixture = try await TLSFixture.start(http2: http2, extra: extra, files: files)
    let result: Result<T, any Error>
    do { result = .success(try await body(fixture)) } catch { result = .failure(error) }
    await fixture.stop()
    return try result.get()
}
