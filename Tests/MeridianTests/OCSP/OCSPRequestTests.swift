import Foundation
import Testing
import X509

@testable import MeridianSecurity

@Suite("OCSP requests and certificate pairs", .serialized, .enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct OCSPRequestTests {
    /// Serials: a short one, the common 4-byte one, and a 20-byte one with the top bit set
    /// (its INTEGER needs a leading zero octet, the classic re-encoding trap).
    @Test(arguments: ["01", "1234ABCD", "8F1E2D3C4B5A69788796A5B4C3D2E1F00112233F"])
    func requestIsByteIdenticalToOpenSSLs(serialHex: String) throws {
        let fixture = try OCSPFixture(serialHex: serialHex)
        defer { fixture.pki.remove() }
        try fixture.pki.run([
            "openssl", "ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-no_nonce", "-reqout", "openssl-req.der",
        ])
        #expect(fixture.request == (try fixture.pki.read("openssl-req.der")))

        let text = try fixture.pki.run(["openssl", "ocsp", "-reqin", "req.der", "-req_text"])
        #expect(text.contains("Hash Algorithm: sha1"))
        #expect(text.contains("Serial Number: \(serialHex)"))
        #expect(!text.contains("Nonce"))
    }

    @Test(arguments: [KeyKind.rsa, .p256, .ed25519])
    func requestWorksForEveryIssuerKeyType(caKey: KeyKind) throws {
        let fixture = try OCSPFixture(caKey: caKey)
        defer { fixture.pki.remove() }
        try fixture.pki.run([
            "openssl", "ocsp", "-issuer", "ca.pem", "-cert", "leaf.pem", "-no_nonce", "-reqout", "openssl-req.der",
        ])
        #expect(fixture.request == (try fixture.pki.read("openssl-req.der")))
    }

    @Test func responderURLIsTheFirstOCSPURI() throws {
        let fixture = try OCSPFixture(responderURL: "http://127.0.0.1:4567/ocsp")
        defer { fixture.pki.remove() }
        #expect(OCSPRequestBuilder.responderURL(of: fixture.leaf) == "http://127.0.0.1:4567/ocsp")

        // caIssuers entries are skipped, and the first of several OCSP URIs wins.
        try fixture.pki.issue(
            "multi",
            by: "ca",
            commonName: "multi",
            serialHex: "0A",
            extensions: [
                "authorityInfoAccess=caIssuers;URI:http://127.0.0.1:1/ca.crt,OCSP;URI:http://127.0.0.1:2/,OCSP;URI:http://127.0.0.1:3/"
            ]
        )
        #expect(OCSPRequestBuilder.responderURL(of: try fixture.pki.certificate("multi")) == "http://127.0.0.1:2/")

        try fixture.pki.issue(
            "issuersOnly",
            by: "ca",
            commonName: "issuers only",
            serialHex: "0B",
            extensions: ["authorityInfoAccess=caIssuers;URI:http://127.0.0.1:1/ca.crt"]
        )
        #expect(OCSPRequestBuilder.responderURL(of: try fixture.pki.certificate("issuersOnly")) == nil)
        #expect(OCSPRequestBuilder.responderURL(of: fixture.issuer) == nil)
    }

    @Test func pairFromPEMsAndChain() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        let leafPEM = try String(contentsOfFile: fixture.pki.path("leaf.pem"), encoding: .utf8)
        let caPEM = try String(contentsOfFile: fixture.pki.path("ca.pem"), encoding: .utf8)

        let pair = try OCSPCertificatePair(leafPEM: leafPEM, issuerPEM: caPEM)
        #expect(pair.leaf == fixture.leaf)
        #expect(pair.issuer == fixture.issuer)
        #expect(try OCSPRequestBuilder.request(for: pair) == fixture.request)
        #expect(try OCSPCertificatePair(chainPEM: leafPEM + caPEM) == pair)

        // A chain in the wrong order names a certificate its "issuer" never signed.
        #expect(throws: OCSPCertificateError.self) { try OCSPCertificatePair(chainPEM: caPEM + leafPEM) }
        #expect(throws: OCSPCertificateError.self) { try OCSPCertificatePair(chainPEM: leafPEM) }
        #expect(throws: OCSPCertificateError.self) { try OCSPCertificatePair(leafPEM: "not pem", issuerPEM: caPEM) }
    }

    @Test func pairRejectsAnIssuerThatDidNotSign() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        // Same subject name, different key: only the signature check tells them apart.
        try fixture.pki.makeCA("impostor", key: .rsa, commonName: "Test rsa CA")
        let impostor = try fixture.pki.certificate("impostor")
        #expect(impostor.subject == fixture.issuer.subject)
        #expect(throws: OCSPCertificateError.self) {
            try OCSPCertificatePair(leaf: fixture.leaf, issuer: impostor)
        }
    }

    @Test func generalizedTimeArithmetic() {
        #expect(OCSPTime.daysSince1970(year: 1970, month: 1, day: 1) == 0)
        #expect(OCSPTime.daysSince1970(year: 2000, month: 3, day: 1) == 11_017)
        #expect(OCSPTime.daysSince1970(year: 2024, month: 2, day: 29) == 19_782)
        #expect(OCSPTime.daysSince1970(year: 1969, month: 12, day: 31) == -1)
        #expect(OCSPTime.daysSince1970(year: 2100, month: 3, day: 1) == 47_541)
    }
}
