import Foundation
import NIOCore
import NIOSSL
import Testing

/// TLS over real sockets with a real TLS client: SNI picks the certificate (checked from the client
/// side), ALPN both ways, live certificate reload, handshake failures, mTLS, HSTS, redirect listener.
@Suite struct TLSTests {
    static func yaml(_ certs: TestCertificates, tls extra: String = "", http2: String = "", extraListeners: String = "") -> String {
        """
        listeners:
          - name: https
            address: 127.0.0.1:0
            tls:
              certificates:
                - {cert: \(certs.cert("default")), key: \(certs.key("default"))}
                - {cert: \(certs.cert("a")), key: \(certs.key("a"))}
                - {cert: \(certs.cert("b")), key: \(certs.key("b")), names: ["*.b.test"]}
              reload_interval: 100ms
        \(extra.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
        \(http2.isEmpty ? "" : "    http2: {\(http2)}")
        \(extraListeners)
        """
    }

    static func makeCertificates() async throws -> TestCertificates {
        let certs = try await TestCertificates()
        try await certs.issue("default", dnsNames: ["default.test"])
        try await certs.issue("a", dnsNames: ["a.test"])
        try await certs.issue("b", dnsNames: ["*.b.test"])
        return certs
    }

    func tls(_ certs: TestCertificates, _ name: String?, alpn: [String] = ["http/1.1"]) -> RawClient.TLS {
        RawClient.TLS(serverName: name, caPath: certs.caPath, alpn: alpn)
    }

    @Test func sniChoosesTheCertificateFromTheClientsView() async throws {
        let certs = try await Self.makeCertificates()
        defer { certs.remove() }
        try await withTestServer(Self.yaml(certs), files: ["index.html": "secure"]) { s in
            // A wildcard covers one label: deep.x.b.test falls back to the default certificate.
            for (sni, expected) in [("a.test", ["a.test"]), ("x.b.test", ["*.b.test"]), ("deep.x.b.test", ["default.test"]), ("other.test", ["default.test"])] {
                var options = tls(certs, sni)
                // The certificate is right for the name the server was asked for, but TLS wildcards
                // cover one label only, so the client cannot verify these two by hostname.
                options.verifyHostname = !(sni == "other.test" || sni == "deep.x.b.test")
                let c = try await RawClient.connect(port: s.port, tls: options)
                _ = try await c.handshake()
                #expect(try await c.peerNames() == expected, "SNI \(sni)")
                try await c.send("GET / HTTP/1.1\r\nHost: \(sni)\r\n\r\n")
                let r = try await c.readResponse()
                #expect(r.text == "secure")
                await c.close()
            }
            // No SNI at all: the default certificate.
            let bare = try await RawClient.connect(port: s.port, tls: tls(certs, nil))
            _ = try await bare.handshake()
            #expect(try await bare.peerNames() == ["default.test"])
            await bare.close()
        }
    }

    @Test func unknownNamesAreRejectedWhenConfigured() async throws {
        let certs = try await Self.makeCertificates()
        defer { certs.remove() }
        try await withTestServer(Self.yaml(certs, tls: "unknown_sni: reject")) { s in
            let bad = try await RawClient.connect(port: s.port, tls: tls(certs, "unknown.test"))
            await #expect(throws: (any Error).self) { try await bad.handshake(timeout: .seconds(3)) }
            #expect(await bad.waitForClose())
            let good = try await RawClient.connect(port: s.port, tls: tls(certs, "a.test"))
            _ = try await good.handshake()
            await good.close()
        }
    }

    @Test func alpnNegotiatesBothWays() async throws {
        let certs = try await Self.makeCertificates()
        defer { certs.remove() }
        try await withTestServer(Self.yaml(certs)) { s in
            let h2 = try await RawClient.connect(port: s.port, tls: tls(certs, "a.test", alpn: ["h2", "http/1.1"]))
            #expect(try await h2.handshake() == "h2")
            await h2.close()
            let h1 = try await RawClient.connect(port: s.port, tls: tls(certs, "a.test", alpn: ["http/1.1"]))
            #expect(try await h1.handshake() == "http/1.1")
            await h1.close()

            try await withTestServer(Self.yaml(certs, http2: "enabled: false")) { noH2 in
                let c = try await RawClient.connect(port: noH2.port, tls: tls(certs, "a.test", alpn: ["h2", "http/1.1"]))
                #expect(try await c.handshake() == "http/1.1")
                await c.close()
            }
        }
    }

    @Test func largeFileOverTLSIsReadInChunks() async throws {
        let certs = try await Self.makeCertificates()
        defer { certs.remove() }
        try await withTestServer(Self.yaml(certs)) { s in
            var bytes = [UInt8](repeating: 0, count: 1_500_000)
            for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 7) }
            try Data(bytes).write(to: s.directory.appendingPathComponent("big.bin"))
            let c = try await RawClient.connect(port: s.port, tls: tls(certs, "a.test"))
            try await c.send("GET /big.bin HTTP/1.1\r\nHost: a.test\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: a.test\r\nRange: bytes=10-19\r\n\r\n")
            #expect(try await c.readResponse(timeout: .seconds(30)).body == bytes)
            let part = try await c.readResponse()
            #expect(part.status == 206 && part.body == Array(bytes[10...19]))
            await c.close()
        }
    }

    @Test func certificateReplacedWhileAConnectionStaysOpen() async throws {
        let certs = try await Self.makeCertificates()
        defer { certs.remove() }
        try await withTestServer(Self.yaml(certs), files: ["index.html": "x"]) { s in
            let old = try await RawClient.connect(port: s.port, tls: tls(certs, "a.test"))
            _ = try await old.handshake()
            let oldSerial = try await old.channel.nioSSL_peerCertificate().get()?.serialNumber
            #expect(oldSerial == [1])

            try await certs.issue("a", dnsNames: ["a.test"], serial: 2)
            var newSerial: [UInt8]?
            for _ in 0..<100 where newSerial != [2] {
                let c = try await RawClient.connect(port: s.port, tls: tls(certs, "a.test"))
                _ = try await c.handshake()
                newSerial = try await c.channel.nioSSL_peerCertificate().get()?.serialNumber
                await c.close()
                if newSerial != [2] { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(newSerial == [2])
            // The connection opened before the reload still works, on its old certificate.
            try await old.send("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
            #expect(try await old.readResponse().status == 200)
            await old.close()
            #expect(s.app.server.certificateStores[0].reloads.load(ordering: .relaxed) >= 1)
        }
    }

    @Test func badNewCertificateFileKeepsTheOldOne() async throws {
        let certs = try await Self.makeCertificates()
        defer { certs.remove() }
        try await withTestServer(Self.yaml(certs)) { s in
            try Data("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n".utf8).write(to: URL(fileURLWithPath: certs.cert("a")))
            let store = s.app.server.certificateStores[0]
            for _ in 0..<100 where store.reloadFailures.load(ordering: .relaxed) == 0 {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(store.reloadFailures.load(ordering: .relaxed) >= 1)
            let c = try await RawClient.connect(port: s.port, tls: tls(certs, "a.test"))
            _ = try await c.handshake()
            #expect(try await c.peerNames() == ["a.test"])
            await c.close()
        }
    }

    @Test func handshakeFailuresAreClosedAndCounted() async throws {
        let certs = try await Self.makeCertificates()
        defer { certs.remove() }
        try await withTestServer(Self.yaml(certs)) { s in
            // Plaintext HTTP on the TLS port.
            let plain = try await RawClient.connect(port: s.port)
            try await plain.send("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
            #expect(await plain.waitForClose())
            // An old protocol version.
            var old = tls(certs, "a.test")
            old.maximumVersion = .tlsv11
            let legacy = try await RawClient.connect(port: s.port, tls: old)
            await #expect(throws: (any Error).self) { try await legacy.handshake(timeout: .seconds(3)) }
            #expect(await legacy.waitForClose())
            // The client may see the alert and close before the server's pipeline has counted the
            // failure (the clean-clone CI runs of 86637dc and c109319 read 1 here): wait for it.
            let store = s.app.server.certificateStores[0]
            for _ in 0..<100 where store.handshakeFailures.load(ordering: .relaxed) < 2 {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(store.handshakeFailures.load(ordering: .relaxed) >= 2)
            // The server is unharmed.
            let good = try await RawClient.connect(port: s.port, tls: tls(certs, "a.test"))
            _ = try await good.handshake()
            await good.close()
        }
    }

    @Test func mutualTLSRequiresAClientCertificate() async throws {
        let certs = try await Self.makeCertificates()
        defer { certs.remove() }
        try await certs.issue("client", dnsNames: ["client.test"])
        try await withTestServer(Self.yaml(certs, tls: "client_auth: {ca: \(certs.caPath)}"), files: ["index.html": "mtls"]) { s in
            let anonymous = try await RawClient.connect(port: s.port, tls: tls(certs, "a.test"))
            try? await anonymous.send("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
            #expect(await anonymous.waitForClose())
            var withCert = tls(certs, "a.test")
            withCert.clientCertificate = (certs.cert("client"), certs.key("client"))
            let c = try await RawClient.connect(port: s.port, tls: withCert)
            try await c.send("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
            #expect(try await c.readResponse().text == "mtls")
            await c.close()
        }
    }

    @Test func hstsAndTheRedirectListener() async throws {
        let certs = try await Self.makeCertificates()
        defer { certs.remove() }
        try await withTestServer(
            Self.yaml(
                certs, tls: "hsts: max-age=31536000; includeSubDomains",
                extraListeners: "  - {name: plain, address: 127.0.0.1:0, redirect: \"https://$host$request_uri\"}"),
            files: ["index.html": "x"]) { s in
            let c = try await RawClient.connect(port: s.port, tls: tls(certs, "a.test"))
            try await c.send("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
            #expect(try await c.readResponse().header("strict-transport-security") == "max-age=31536000; includeSubDomains")
            await c.close()
            let plainPort = try #require(s.app.listeners.first(where: { $0.name == "plain" })?.address.port)
            let p = try await RawClient.connect(port: plainPort)
            try await p.send("GET /path?q=1 HTTP/1.1\r\nHost: a.test\r\n\r\n")
            let r = try await p.readResponse()
            #expect(r.status == 308 && r.header("location") == "https://a.test/path?q=1")
            await p.close()
        }
    }
}

/// A client that connects and never completes a handshake (or never sends the h2c preface) must
/// not hold a connection slot: no HTTP timer runs before the protocol is settled.
@Suite struct PreProtocolTimeoutTests {
    @Test(arguments: ["", "enabled: false"])
    func silentTLSClientIsClosed(_ http2: String) async throws {
        try await withTLSFixture(http2: http2, extra: "timeouts: {header_read: 300ms}") { f in
            let s = f.server
            let silent = try await RawClient.connect(port: s.port)
            #expect(await silent.waitForClose(timeout: .seconds(5)))
            let half = try await RawClient.connect(port: s.port)
            try await half.send(bytes: [0x16, 0x03, 0x01])  // the start of a ClientHello, then nothing
            #expect(await half.waitForClose(timeout: .seconds(5)))
        }
    }

    @Test func silentH2CClientIsClosed() async throws {
        try await withTestServer(
            """
            listeners:
              - {name: http, address: 127.0.0.1:0, http2: {h2c: true}}
            timeouts: {header_read: 300ms}
            """) { s in
            let c = try await RawClient.connect(port: s.port)
            try await c.send("PRI * HT")
            #expect(await c.waitForClose(timeout: .seconds(5)))
        }
    }
}
