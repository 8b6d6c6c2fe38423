import Foundation
import Testing
import X509

@testable import MeridianSecurity

/// Key types the test CAs and responders are made with.
enum KeyKind: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case rsa
    case p256
    case ed25519

    var opensslNewKey: [String] {
        switch self {
        case .rsa: ["-newkey", "rsa:2048"]
        case .p256: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        case .ed25519: ["-newkey", "ed25519"]
        }
    }

    var testDescription: String { self.rawValue }
}

struct CommandFailed: Error, CustomStringConvertible {
    var command: [String]
    var status: Int32
    var output: String
    var description: String { "\(command.joined(separator: " ")) exited \(status): \(output)" }
}

/// A throwaway PKI in its own temporary directory, made with the real openssl CLI (no crypto is mocked).
struct TestPKI: Sendable {
    let directory: URL

    init() throws {
        self.directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ocsp-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: self.directory)
    }

    func path(_ name: String) -> String { self.directory.appendingPathComponent(name).path }

    /// Runs a command in the PKI directory; throws with its output when it fails.
    @discardableResult
    func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = self.directory
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw CommandFailed(command: arguments, status: process.terminationStatus, output: output)
        }
        return output
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: self.path(name), atomically: true, encoding: .utf8)
    }

    func write(_ name: String, bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: self.path(name)))
    }

    func read(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: self.path(name))))
    }

    func certificate(_ name: String) throws -> Certificate {
        try Certificate(pemEncoded: String(contentsOfFile: self.path("\(name).pem"), encoding: .utf8))
    }

    /// A self-signed CA `name`.pem / `name`.key.
    func makeCA(_ name: String, key: KeyKind, commonName: String) throws {
        try self.run(
            ["openssl", "req", "-x509"] + key.opensslNewKey + [
                "-nodes", "-keyout", "\(name).key", "-out", "\(name).pem", "-days", "30",
                "-subj", "/CN=\(commonName)",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            ]
        )
    }

    /// A certificate `name`.pem / `name`.key issued by `ca` with the given serial and extension lines.
    func issue(
        _ name: String,
        by ca: String,
        key: KeyKind = .p256,
        commonName: String,
        serialHex: String,
        extensions: [String],
        days: Int = 10
    ) throws {
        try self.write("\(name).ext", extensions.joined(separator: "\n") + "\n")
        try self.run(
            ["openssl", "req", "-new"] + key.opensslNewKey + [
                "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(commonName)",
            ]
        )
        try self.run([
            "openssl", "x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key",
            "-set_serial", "0x\(serialHex)", "-days", "\(days)", "-extfile", "\(name).ext", "-out", "\(name).pem",
        ])
    }

    /// An OpenSSL CA database line: `V` valid or `R` revoked (revocation time as YYMMDDHHMMSSZ[,reason]).
    static func indexLine(_ state: Character, serialHex: String, revoked: String = "", commonName: String) -> String {
        "\(state)\t491231235959Z\t\(revoked)\t\(serialHex)\tunknown\t/CN=\(commonName)"
    }

    /// `openssl ocsp` as a responder answering the request in `requestFile` from `index.txt`.
    func respond(
        requestFile: String = "req.der",
        ca: String = "ca",
        signer: String,
        options: [String] = ["-ndays", "1"]
    ) throws -> [UInt8] {
        let out = "resp-\(UUID().uuidString).der"
        try self.run(
            [
                "openssl", "ocsp", "-index", "index.txt", "-CA", "\(ca).pem", "-rsigner", "\(signer).pem",
                "-rkey", "\(signer).key", "-reqin", requestFile, "-respout", out,
            ] + options
        )
        return try self.read(out)
    }
}

/// The common setup: a CA (`ca`), a leaf it issued with an OCSP URL in AIA, the request this
/// module built for the leaf written to req.der, and an index.txt.
struct OCSPFixture: Sendable {
    static let leafName = "leaf.example"

    let pki: TestPKI
    let leaf: Certificate
    let issuer: Certificate
    let request: [UInt8]

    /// `index`: the CA database lines; nil writes the leaf as valid.
    init(
        caKey: KeyKind = .rsa,
        serialHex: String = "1234ABCD",
        responderURL: String = "http://127.0.0.1:8888/",
        index: [String]? = nil
    ) throws {
        self.pki = try TestPKI()
        try self.pki.makeCA("ca", key: caKey, commonName: "Test \(caKey.rawValue) CA")
        try self.pki.issue(
            "leaf",
            by: "ca",
            commonName: OCSPFixture.leafName,
            serialHex: serialHex,
            extensions: [
                "basicConstraints=CA:FALSE",
                "keyUsage=critical,digitalSignature",
                "extendedKeyUsage=serverAuth",
                "subjectAltName=DNS:\(OCSPFixture.leafName)",
                "authorityInfoAccess=OCSP;URI:\(responderURL)",
            ]
        )
        self.leaf = try self.pki.certificate("leaf")
        self.issuer = try self.pki.certificate("ca")
        self.request = try OCSPRequestBuilder.request(leaf: self.leaf, issuer: self.issuer)
        try self.pki.write("req.der", bytes: self.request)
        let lines = index ?? [TestPKI.indexLine("V", serialHex: serialHex, commonName: OCSPFixture.leafName)]
        try self.pki.write("index.txt", lines.map { $0 + "\n" }.joined())
    }

    /// A delegated responder certificate `name`, issued by `ca`, with or without id-kp-OCSPSigning.
    func makeResponder(_ name: String, by ca: String = "ca", ocspSigning: Bool, days: Int = 10) throws {
        try self.pki.issue(
            name,
            by: ca,
            commonName: "OCSP responder \(name)",
            serialHex: "5EED\(name.count)",
            extensions: [
                "basicConstraints=CA:FALSE",
                "keyUsage=critical,digitalSignature",
                ocspSigning ? "extendedKeyUsage=OCSPSigning" : "extendedKeyUsage=serverAuth",
            ],
            days: days
        )
    }

    func respond(signer: String = "ca", ca: String = "ca", options: [String] = ["-ndays", "1"]) throws -> [UInt8] {
        try self.pki.respond(ca: ca, signer: signer, options: options)
    }

    func verify(_ response: [UInt8], now: Date = Date()) throws -> OCSPStatus {
        try OCSPResponseVerifier.verify(response, leaf: self.leaf, issuer: self.issuer, now: now)
    }
}

/// Whether a private network namespace can be made here: the live-responder test runs openssl's
/// responder (which binds every interface in OpenSSL 3.0) inside one, so it is reachable on
/// loopback only.
let networkNamespaceAvailable: Bool = {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["unshare", "--net", "true"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do {
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    } catch {
        return false
    }
}()
