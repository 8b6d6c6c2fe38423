import Foundation
import Testing

/// OCSP stapling from the certificates' responder: a real `openssl ocsp` behind `Tests/tools/ocsp_responder.py`
/// (loopback only), `openssl s_client -status` as the client, the refresh passes driven with chosen times.
@Suite struct OCSPStaplingTests {
    struct Setup {
        let certs: TestCertificates
        let responder: PortPrintingProcess
        let log: String
        var fetches: Int { (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").count ?? 0 }
        func chain(_ name: String) -> String { certs.directory.appendingPathComponent("\(name)-chain.pem").path }
        /// From now on the responder answers 503.
        func takeDown() { FileManager.default.createFile(atPath: certs.directory.appendingPathComponent("responder-down").path, contents: nil) }
        func stop() {
            responder.stop()
            certs.remove()
        }
    }

    /// A CA, a responder for it, and certificates naming the responder: `a` (good, serial 0x10), `b` (revoked, 0x11),
    /// each with a chain file (leaf + CA) as certificate managers write them.
    static func setUp() async throws -> Setup {
        let certs = try await TestCertificates()
        let dir = certs.directory.path
        let index = "\(dir)/index.txt"
        let log = "\(dir)/responder.log"
        FileManager.default.createFile(atPath: index, contents: nil)
        let responder = try PortPrintingProcess([
            "python3", TestTools.path("ocsp_responder.py"), "--index", index, "--ca", certs.caPath, "--rsigner", certs.caPath,
            "--rkey", "\(dir)/ca.key", "--nmin", "10", "--log", log, "--fail-if", "\(dir)/responder-down",
        ])
        let aia = "authorityInfoAccess=OCSP;URI:http://127.0.0.1:\(responder.port)/"
        try await certs.issue("a", dnsNames: ["a.test"], serial: 0x10, extensions: [aia])
        try await certs.issue("b", dnsNames: ["b.test"], serial: 0x11, extensions: [aia])
        let setup = Setup(certs: certs, responder: responder, log: log)
        let ca = try String(contentsOfFile: certs.caPath, encoding: .utf8)
        for name in ["a", "b"] {
            try (String(contentsOfFile: certs.cert(name), encoding: .utf8) + ca).write(toFile: setup.chain(name), atomically: true, encoding: .utf8)
        }
        let expiry = "301231235959Z"
        let revokedAt = "200101000000Z"
        try "V\t\(expiry)\t\t10\tunknown\t/CN=a.test\nR\t\(expiry)\t\(revokedAt),keyCompromise\t11\tunknown\t/CN=b.test\n"
            .write(toFile: index, atomically: true, encoding: .utf8)
        return setup
    }

    static func yaml(_ s: Setup, chains: Bool = true, extra: String = "") -> String {
        func cert(_ n: String) -> String { "{cert: \(chains ? s.chain(n) : s.certs.cert(n)), key: \(s.certs.key(n))}" }
        return """
            listeners:
              - name: https
                address: 127.0.0.1:0
                tls:
                  certificates: [\(cert("a")), \(cert("b"))]
                  \(extra)
            """
    }

    static func status(_ s: TestServer, _ setup: Setup, _ name: String, tls12: Bool = false) async throws -> String {
        try await TLSSessionTests.sClient(port: s.port, certs: setup.certs, name: name, [tls12 ? "-tls1_2" : "-tls1_3", "-status"])
    }

    @Test func responsesAreFetchedVerifiedStapledAndRefreshedBeforeTheyExpire() async throws {
        let setup = try await Self.setUp()
        defer { setup.stop() }
        try await withTestServer(Self.yaml(setup)) { s in
            let stapling = try #require(s.app.ocspStapling)
            let t0 = Date()
            await stapling.refreshDue(now: t0)
            #expect(setup.fetches == 2)
            for tls12 in [false, true] {
                let good = try await Self.status(s, setup, "a.test", tls12: tls12)
                #expect(good.contains("OCSP Response Status: successful") && good.contains("Cert Status: good"), "\(good)")
                let revoked = try await Self.status(s, setup, "b.test", tls12: tls12)
                #expect(revoked.contains("OCSP response: no response sent"), "only good answers are stapled, as nginx does: \(revoked)")
            }
            let m = try await AuthTests.metrics(s)
            #expect(m.contains("meridian_tls_ocsp_fetches_total{result=\"success\"} 1"), "\(m)")
            #expect(m.contains("meridian_tls_ocsp_fetches_total{result=\"revoked\"} 1"), "\(m)")
            #expect(m.contains("meridian_tls_ocsp_fetches_total{result=\"failure\"} 0"), "\(m)")
            #expect(m.contains("meridian_tls_ocsp_staple_expiry_seconds{listener=\"https\",certificate=\"a.test\",index=\"0\"}"), "\(m)")
            #expect(m.contains("meridian_tls_ocsp_stapled{listener=\"https\",certificate=\"a.test\",index=\"0\"} 1"), "\(m)")
            #expect(m.contains("meridian_tls_ocsp_stapled{listener=\"https\",certificate=\"b.test\",index=\"1\"} 0"), "\(m)")

            // A minute later only b (revoked: asked again every minute) is due; halfway through its 10-minute
            // validity a is fetched again (and b).
            await stapling.refreshDue(now: t0 + 60)
            #expect(setup.fetches == 3)
            await stapling.refreshDue(now: t0 + 7 * 60)
            #expect(setup.fetches == 5)

            // The responder fails: the fetch fails, is counted, and the last good response stays stapled ...
            setup.takeDown()
            await stapling.refreshDue(now: t0 + 9 * 60)
            let kept = try await Self.status(s, setup, "a.test")
            #expect(kept.contains("Cert Status: good"), "\(kept)")
            let failed = try await AuthTests.metrics(s)
            #expect(failed.contains("meridian_tls_ocsp_fetches_total{result=\"failure\"} 2"), "a and b: \(failed)")
            // ... until it expires: then nothing is stapled (clients reject an expired response).
            await stapling.refreshDue(now: t0 + 11 * 60)
            let none = try await Self.status(s, setup, "a.test")
            #expect(none.contains("OCSP response: no response sent"), "\(none)")
        }
    }

    /// One certificate on two listeners (IPv4 and IPv6, 443 and 8443): each staples it.
    @Test func aCertificateOnTwoListenersIsStapledOnBoth() async throws {
        let setup = try await Self.setUp()
        defer { setup.stop() }
        let yaml = """
            listeners:
              - name: one
                address: 127.0.0.1:0
                tls: {certificates: [{cert: \(setup.chain("a")), key: \(setup.certs.key("a"))}]}
              - name: two
                address: 127.0.0.1:0
                tls: {certificates: [{cert: \(setup.chain("a")), key: \(setup.certs.key("a"))}]}
            """
        try await withTestServer(yaml) { s in
            await s.app.ocspStapling?.refreshDue(now: Date())
            for listener in s.app.listeners {
                let port = try #require(listener.address.port)
                let out = try await TLSSessionTests.sClient(port: port, certs: setup.certs, name: "a.test", ["-status"])
                #expect(out.contains("Cert Status: good"), "\(listener.name): \(out)")
            }
        }
    }

    @Test func withoutAnIssuerOrWhenTurnedOffNothingIsFetched() async throws {
        let setup = try await Self.setUp()
        defer { setup.stop() }
        // The leaf alone: the request needs the issuer, so nothing is asked (and the log says to append it).
        try await withTestServer(Self.yaml(setup, chains: false)) { s in
            await s.app.ocspStapling?.refreshDue(now: Date())
            #expect(setup.fetches == 0)
            let none = try await Self.status(s, setup, "a.test")
            #expect(none.contains("OCSP response: no response sent"), "\(none)")
        }
        try await withTestServer(Self.yaml(setup, extra: "ocsp_stapling: false")) { s in
            #expect(s.app.ocspStapling == nil)
        }
        // A certificate with an ocsp file is not fetched for.
        let file = setup.certs.directory.appendingPathComponent("a.ocsp.der").path
        let (code, out) = try await Subprocess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", """
            cd "$0" && openssl ocsp -issuer ca.pem -cert a.pem -no_nonce -reqout a.req 2>&1 && \
            openssl ocsp -index index.txt -CA ca.pem -rsigner ca.pem -rkey ca.key -reqin a.req -ndays 1 -respout a.ocsp.der 2>&1
            """, setup.certs.directory.path])
        #expect(code == 0, "\(out)")
        let fileYAML = Self.yaml(setup).replacingOccurrences(of: "key: \(setup.certs.key("a"))}", with: "key: \(setup.certs.key("a")), ocsp: \(file)}")
        try await withTestServer(fileYAML) { s in
            await s.app.ocspStapling?.refreshDue(now: Date())
            #expect(setup.fetches == 1, "only b is fetched")
            let fromFile = try await Self.status(s, setup, "a.test")
            #expect(fromFile.contains("Cert Status: good"), "\(fromFile)")
        }
    }
}
