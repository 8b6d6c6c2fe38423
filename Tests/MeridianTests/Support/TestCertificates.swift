import Foundation

/// A throwaway CA and server certificates made with the openssl CLI, one directory per test.
struct TestCertificates {
    let directory: URL

    var caPath: String { directory.appendingPathComponent("ca.pem").path }
    func cert(_ name: String) -> String { directory.appendingPathComponent("\(name).pem").path }
    func key(_ name: String) -> String { directory.appendingPathComponent("\(name).key").path }

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await Self.openssl(in: directory, [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=Meridian Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
    }

    /// Issues `<name>.pem` / `<name>.key` (an ECDSA P-256 key, or RSA 2048) for the DNS names given, signed by the test CA.
    @discardableResult
    func issue(_ name: String, dnsNames: [String], serial: Int = 1, rsa: Bool = false, extensions: [String] = []) async throws -> (cert: String, key: String) {
        let ext = directory.appendingPathComponent("\(name).ext")
        let lines = ["subjectAltName=\(dnsNames.map { "DNS:\($0)" }.joined(separator: ","))", "extendedKeyUsage=serverAuth,clientAuth"] + extensions
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: ext)
        try await Self.openssl(in: directory, [
            "req", "-newkey"] + (rsa ? ["rsa:2048"] : ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]) + [
            "-nodes", "-keyout", "\(name).key.new", "-out", "\(name).csr",
            "-subj", "/CN=\(dnsNames.first ?? name)",
        ])
        try await Self.openssl(in: directory, [
            "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "\(serial)",
            "-out", "\(name).pem.new", "-days", "2", "-extfile", "\(name).ext",
        ])
        // Replace atomically, as a certificate manager would.
        guard rename(directory.appendingPathComponent("\(name).key.new").path, key(name)) == 0,
            rename(directory.appendingPathComponent("\(name).pem.new").path, cert(name)) == 0
        else { throw TestError("rename failed: \(errno)") }
        return (cert(name), key(name))
    }

    static func openssl(in dir: URL, _ args: [String]) async throws {
        // openssl takes file names relative to the certificate directory.
        let (code, out) = try await Subprocess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "cd \"$0\" && exec openssl \"$@\"", dir.path] + args)
        guard code == 0 else { throw TestError("openssl \(args.joined(separator: " ")) failed: \(out)") }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}
