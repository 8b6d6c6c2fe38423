import Foundation
import Testing

/// Session resumption across instances through shared ticket keys, and per-certificate OCSP stapling, checked
/// with the openssl CLI as the client (`s_client -sess_out/-sess_in`, `-status`).
@Suite struct TLSSessionTests {
    static func yaml(_ certs: TestCertificates, tickets: [String] = [], ocsp: [String: String] = [:]) -> String {
        func cert(_ name: String) -> String {
            "{cert: \(certs.cert(name)), key: \(certs.key(name))\(ocsp[name].map { ", ocsp: \($0)" } ?? "")}"
        }
        return """
            listeners:
              - name: https
                address: 127.0.0.1:0
                tls:
                  certificates: [\(cert("a")), \(cert("b"))]
                  session_ticket_keys: [\(tickets.joined(separator: ", "))]
            """
    }

    static func certificates() async throws -> TestCertificates {
        let certs = try await TestCertificates()
        try await certs.issue("a", dnsNames: ["a.test"], serial: 10)
        try await certs.issue("b", dnsNames: ["b.test"], serial: 11)
        return certs
    }

    /// One request through `openssl s_client`; its report (Reused/New, the stapled OCSP response).
    static func sClient(port: Int, certs: TestCertificates, name: String = "a.test", _ extra: [String]) async throws -> String {
        let script = "printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | timeout 10 openssl s_client -connect 127.0.0.1:\(port) -servername \(name) -CAfile \(certs.caPath) -ign_eof \"$@\" 2>&1"
        let (_, out) = try await Subprocess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", script, "sh"] + extra)
        return out
    }

    static func resumption(_ from: TestServer, _ to: TestServer, certs: TestCertificates, name: String = "a.test", tls12: Bool = false) async throws -> String {
        let session = certs.directory.appendingPathComponent("session-\(UUID().uuidString).pem").path
        let version = tls12 ? ["-tls1_2"] : ["-tls1_3"]
        _ = try await sClient(port: from.port, certs: certs, name: name, version + ["-sess_out", session])
        let second = try await sClient(port: to.port, certs: certs, name: name, version + ["-sess_in", session])
        return second.split(separator: "\n").first { $0.hasPrefix("Reused") || $0.hasPrefix("New") }.map(String.init) ?? second
    }

    static func ticketKey(_ certs: TestCertificates, _ name: String) async throws -> String {
        let path = certs.directory.appendingPathComponent(name).path
        let (code, out) = try await Subprocess.run("openssl", ["rand", "-out", path, "80"])
        guard code == 0 else { throw TestError("openssl rand: \(out)") }
        return path
    }

    @Test func aSessionFromOneInstanceResumesOnAnotherWithTheSameTicketKeys() async throws {
        let certs = try await Self.certificates()
        defer { certs.remove() }
        let key1 = try await Self.ticketKey(certs, "ticket-1.key")
        let key2 = try await Self.ticketKey(certs, "ticket-2.key")
        try await withTestServers(2, Self.yaml(certs, tickets: [key1])) { s in
            let v13 = try await Self.resumption(s[0], s[1], certs: certs)
            #expect(v13.hasPrefix("Reused, TLSv1.3"), "\(v13)")
            let v12 = try await Self.resumption(s[1], s[0], certs: certs, tls12: true)
            #expect(v12.hasPrefix("Reused, TLSv1.2"), "\(v12)")
            // A session is bound to the name it was made for: it does not resume under another certificate.
            let session = certs.directory.appendingPathComponent("cross.pem").path
            _ = try await Self.sClient(port: s[0].port, certs: certs, name: "b.test", ["-tls1_3", "-sess_out", session])
            let other = try await Self.sClient(port: s[1].port, certs: certs, name: "a.test", ["-tls1_3", "-sess_in", session])
            #expect(other.contains("\nNew, TLSv1.3"), "\(other)")
            // An instance that has rotated (new key first, old key kept) still resumes the old sessions.
            try await withTestServer(Self.yaml(certs, tickets: [key2, key1])) { rotated in
                let r = try await Self.resumption(s[0], rotated, certs: certs)
                #expect(r.hasPrefix("Reused"), "\(r)")
            }
            // One that only knows another key makes a full handshake.
            try await withTestServer(Self.yaml(certs, tickets: [key2])) { stranger in
                let r = try await Self.resumption(s[0], stranger, certs: certs)
                #expect(r.hasPrefix("New"), "\(r)")
            }
        }
        // Without shared keys, each instance has its own: no resumption across them.
        try await withTestServers(2, Self.yaml(certs)) { s in
            let across = try await Self.resumption(s[0], s[1], certs: certs)
            #expect(across.hasPrefix("New"), "\(across)")
            let within = try await Self.resumption(s[0], s[0], certs: certs)
            #expect(within.hasPrefix("Reused"), "but within one instance it does: \(within)")
        }
    }

    /// An `openssl ocsp` response for `name` from the test CA (`good`, or `revoked`).
    static func ocspResponse(_ certs: TestCertificates, _ name: String, serial: Int, revoked: Bool) async throws -> String {
        let dir = certs.directory.path
        let index = "\(dir)/index-\(name).txt"
        let script = """
            set -e
            cd "$0"
            exp=$(date -u -d '+2 days' +%y%m%d%H%M%SZ)
            rev=$(date -u -d '-1 hour' +%y%m%d%H%M%SZ)
            if [ "$2" = revoked ]; then printf 'R\\t%s\\t%s,keyCompromise\\t%02X\\tunknown\\t/CN=%s.test\\n' "$exp" "$rev" "$3" "$1" > "$4"
            else printf 'V\\t%s\\t\\t%02X\\tunknown\\t/CN=%s.test\\n' "$exp" "$3" "$1" > "$4"; fi
            openssl ocsp -issuer ca.pem -cert "$1.pem" -no_nonce -reqout "$1.req" 2>&1
            openssl ocsp -index "$4" -CA ca.pem -rsigner ca.pem -rkey ca.key -reqin "$1.req" -ndays 1 -respout "$1.ocsp.der" 2>&1
            """
        let (code, out) = try await Subprocess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", script, dir, name, revoked ? "revoked" : "good", String(serial), index])
        guard code == 0 else { throw TestError("ocsp response: \(out)") }
        return "\(dir)/\(name).ocsp.der"
    }

    @Test func eachCertificateStaplesItsOwnOCSPResponse() async throws {
        let certs = try await Self.certificates()
        defer { certs.remove() }
        let a = try await Self.ocspResponse(certs, "a", serial: 10, revoked: false)
        let b = try await Self.ocspResponse(certs, "b", serial: 11, revoked: true)
        try await withTestServer(Self.yaml(certs, ocsp: ["a": a, "b": b])) { s in
            for version in ["-tls1_3", "-tls1_2"] {
                let good = try await Self.sClient(port: s.port, certs: certs, name: "a.test", [version, "-status"])
                #expect(good.contains("OCSP Response Status: successful") && good.contains("Cert Status: good"), "\(good)")
                let revoked = try await Self.sClient(port: s.port, certs: certs, name: "b.test", [version, "-status"])
                #expect(revoked.contains("OCSP Response Status: successful") && revoked.contains("Cert Status: revoked"), "\(revoked)")
            }
        }
        // Without a response file nothing is stapled.
        try await withTestServer(Self.yaml(certs)) { s in
            let none = try await Self.sClient(port: s.port, certs: certs, ["-status"])
            #expect(none.contains("OCSP response: no response sent"), "\(none)")
        }
    }

    @Test func ticketKeyAndOCSPFilesAreCheckedAtLoad() {
        let bad = configErrors(
            """
            listeners:
              - address: 127.0.0.1:0
                tls:
                  certificates: [{cert: /dev/null, key: /dev/null, ocsp: /nonexistent.der}]
                  session_ticket_keys: [/dev/null]
            """
        )
        #expect(bad.contains { $0.contains("certificates[0].ocsp: cannot read '/nonexistent.der'") }, "\(bad)")
        #expect(bad.contains { $0.contains("session_ticket_keys[0]: '/dev/null' holds 0 bytes; a ticket key is 80 (or 48) random bytes") }, "\(bad)")
    }
}
