import Foundation
import MeridianConfig
import Testing

/// Each TLS profile checked by a real scanner: sslyze (PyPI) scans a running listener and compares what it
/// accepts (versions, cipher suites, curves, and the vulnerability checks: compression, renegotiation,
/// fallback SCSV, extended master secret) with Mozilla's configuration of the same name.
@Suite struct TLSProfileTests {
    /// One listener with one certificate (an RSA 2048 or ECDSA P-256 leaf from a test CA sslyze is told to trust).
    static func yaml(_ certs: TestCertificates, name: String, tls: String) -> String {
        """
        listeners:
          - name: https
            address: 127.0.0.1:0
            tls:
              certificates:
                - {cert: \(certs.cert(name)), key: \(certs.key(name))}
              \(tls)
        """
    }

    /// Runs sslyze against the listener with `--mozilla_config=profile`; returns its exit status and report.
    static func scan(port: Int, profile: String, ca: String) async throws -> (Int32, String) {
        try await Subprocess.run(
            "python3", ["-m", "sslyze", "--certinfo_ca_file", ca, "--mozilla_config=\(profile)", "localhost:\(port){127.0.0.1}"], timeout: 120
        )
    }

    static func certificates() async throws -> TestCertificates {
        let certs = try await TestCertificates()
        try await certs.issue("rsa", dnsNames: ["localhost"], rsa: true)
        try await certs.issue("ec", dnsNames: ["localhost"])
        return certs
    }

    @Test func profilesAndVersionsDecodeWithClearErrors() throws {
        func listener(_ tls: String) -> String {
            """
            listeners:
              - name: https
                address: 127.0.0.1:0
                tls:
                  certificates: [{cert: /dev/null, key: /dev/null}]
                  \(tls)
            """
        }
        let byDefault = try #require(try ConfigLoader.parse(yaml: listener(""), source: "t").listeners[0].tls)
        #expect(byDefault.profile == .intermediate && byDefault.minimumVersion == .tls12 && byDefault.ciphers == nil)
        let modern = try #require(try ConfigLoader.parse(yaml: listener("profile: modern"), source: "t").listeners[0].tls)
        #expect(modern.minimumVersion == .tls13)
        let old = try #require(try ConfigLoader.parse(yaml: listener("profile: old\n      min_version: \"1.1\""), source: "t").listeners[0].tls)
        #expect(old.profile == .old && old.minimumVersion == .tls11)
        #expect(configErrors(listener("min_version: \"1.0\"")) == [
            "test.yaml:6:20: listeners[0].tls.min_version: TLS 1.0 is offered only with profile: old; use \"1.2\" or \"1.3\", or set profile: old"
        ])
        #expect(configErrors(listener("profile: modern\n      min_version: \"1.2\"")) == [
            "test.yaml:7:20: listeners[0].tls.min_version: is below the modern profile's TLS 1.3; raise it or choose another profile"
        ])
        #expect(configErrors(listener("profile: strict")) == [
            "test.yaml:6:16: listeners[0].tls.profile: 'strict' is not allowed; expected one of: modern, intermediate, old"
        ])
    }

    @Test(arguments: ["rsa", "ec"])
    func theDefaultListenerPassesMozillasIntermediateConfiguration(key: String) async throws {
        let certs = try await Self.certificates()
        defer { certs.remove() }
        try await withTestServer(Self.yaml(certs, name: key, tls: "")) { s in
            let (code, report) = try await Self.scan(port: s.port, profile: "intermediate", ca: certs.caPath)
            #expect(code == 0, "\(report)")
            #expect(report.contains("is compliant with Mozilla's \"intermediate\" configuration") || report.contains("OK - Compliant"), "\(report)")
            // The suites the issue found on the old default are gone.
            for weak in ["TLS_RSA_WITH_AES_128_CBC_SHA ", "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA "] {
                #expect(!report.contains(weak), "\(weak) accepted")
            }
        }
    }

    @Test func theModernProfilePassesMozillasModernConfiguration() async throws {
        let certs = try await Self.certificates()
        defer { certs.remove() }
        try await withTestServer(Self.yaml(certs, name: "ec", tls: "profile: modern")) { s in
            let (code, report) = try await Self.scan(port: s.port, profile: "modern", ca: certs.caPath)
            #expect(code == 0, "\(report)")
            #expect(!report.contains("TLS 1.2 Cipher Suites:\n     Attempted to connect using 156 cipher suites.\n\n     The server accepted"), "\(report)")
        }
    }

    /// The old profile is for clients from before 2013: TLS 1.0 and CBC suites are accepted. (sslyze's "old"
    /// check also wants an RSA-signed certificate chain, which the ECDSA test CA is not, so the versions and
    /// suites are checked here from its report.)
    @Test func theOldProfileAcceptsTLS10AndTheLegacySuites() async throws {
        let certs = try await Self.certificates()
        defer { certs.remove() }
        try await withTestServer(Self.yaml(certs, name: "rsa", tls: "profile: old")) { s in
            let (_, report) = try await Self.scan(port: s.port, profile: "old", ca: certs.caPath)
            let issues = report.components(separatedBy: "COMPLIANCE AGAINST").last ?? ""
            #expect(!issues.contains("* tls_versions") && !issues.contains("* ciphers"), "\(issues)")
            #expect(report.contains("TLS 1.0 Cipher Suites:\n     Attempted to connect using 80 cipher suites.\n\n     The server accepted"), "\(report)")
            #expect(report.contains("TLS_RSA_WITH_AES_128_CBC_SHA"), "\(report)")
        }
    }
}
