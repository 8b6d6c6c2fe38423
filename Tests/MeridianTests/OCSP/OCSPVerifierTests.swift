import Crypto
import Foundation
import Testing
import X509

@testable import MeridianSecurity

/// Every response here is made by `openssl ocsp` answering the request OCSPRequestBuilder wrote.
@Suite("OCSP response verification against openssl", .serialized, .enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1"))
struct OCSPVerifierTests {
    static let day: TimeInterval = 86_400

    @Test(arguments: [KeyKind.rsa, .p256])
    func goodResponseFromTheIssuer(caKey: KeyKind) throws {
        let fixture = try OCSPFixture(caKey: caKey)
        defer { fixture.pki.remove() }
        let before = Date()
        let status = try fixture.verify(try fixture.respond())
        #expect(status.certStatus == .good)
        // openssl stamps whole seconds: producedAt and thisUpdate are "now", nextUpdate one day on.
        #expect(abs(status.thisUpdate.timeIntervalSince(before)) < 60)
        #expect(abs(status.producedAt.timeIntervalSince(before)) < 60)
        #expect(status.nextUpdate?.timeIntervalSince(status.thisUpdate) == OCSPVerifierTests.day)
    }

    @Test func nextUpdateInMinutes() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        let response = try fixture.respond(options: ["-nmin", "10"])
        let status = try fixture.verify(response)
        #expect(status.nextUpdate?.timeIntervalSince(status.thisUpdate) == 600)
        #expect(try fixture.verify(response, now: status.thisUpdate.addingTimeInterval(9 * 60)) == status)
        #expect(
            throws: OCSPVerificationError.expired(
                nextUpdate: status.thisUpdate.addingTimeInterval(600),
                now: status.thisUpdate.addingTimeInterval(11 * 60))
        ) {
            try fixture.verify(response, now: status.thisUpdate.addingTimeInterval(11 * 60))
        }
    }

    @Test func revokedIsReturnedWithTimeAndReason() throws {
        let fixture = try OCSPFixture(index: [
            TestPKI.indexLine(
                "R", serialHex: "1234ABCD", revoked: "240101000000Z,keyCompromise", commonName: "leaf.example")
        ])
        defer { fixture.pki.remove() }
        let status = try fixture.verify(try fixture.respond())
        // 2024-01-01T00:00:00Z; CRLReason keyCompromise = 1.
        #expect(status.certStatus == .revoked(at: Date(timeIntervalSince1970: 1_704_067_200), reason: 1))
    }

    @Test func revokedWithoutReason() throws {
        let fixture = try OCSPFixture(index: [
            TestPKI.indexLine("R", serialHex: "1234ABCD", revoked: "231231235959Z", commonName: "leaf.example")
        ])
        defer { fixture.pki.remove() }
        let status = try fixture.verify(try fixture.respond())
        #expect(status.certStatus == .revoked(at: Date(timeIntervalSince1970: 1_704_067_199), reason: nil))
    }

    /// openssl answers `unknown` (a signed, successful response) for a serial missing from index.txt.
    @Test func serialMissingFromIndexIsUnknown() throws {
        let fixture = try OCSPFixture(index: [TestPKI.indexLine("V", serialHex: "0BAD", commonName: "other")])
        defer { fixture.pki.remove() }
        #expect(try fixture.verify(try fixture.respond()).certStatus == .unknown)
    }

    @Test(arguments: [KeyKind.rsa, .p256])
    func delegatedResponderWithOCSPSigningIsAccepted(caKey: KeyKind) throws {
        let fixture = try OCSPFixture(caKey: caKey)
        defer { fixture.pki.remove() }
        try fixture.makeResponder("responder", ocspSigning: true)
        #expect(try fixture.verify(try fixture.respond(signer: "responder")).certStatus == .good)
        // Identified by key hash instead of name: still found.
        #expect(
            try fixture.verify(try fixture.respond(signer: "responder", options: ["-ndays", "1", "-resp_key_id"]))
                .certStatus == .good)
    }

    @Test func delegatedResponderWithoutOCSPSigningIsRejected() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        try fixture.makeResponder("responder", ocspSigning: false)
        #expect(throws: OCSPVerificationError.responderNotAuthorized(responder: "CN=OCSP responder responder")) {
            try fixture.verify(try fixture.respond(signer: "responder"))
        }
    }

    @Test func delegatedResponderIssuedByAnotherCAIsRejected() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        try fixture.pki.makeCA("other", key: .rsa, commonName: "Other CA")
        try fixture.makeResponder("responder", by: "other", ocspSigning: true)
        #expect(
            throws: OCSPVerificationError.responderNotIssuedByIssuer(
                responder: "CN=OCSP responder responder",
                issuer: "CN=Test rsa CA"
            )
        ) {
            try fixture.verify(try fixture.respond(signer: "responder"))
        }
    }

    @Test func delegatedResponderOutsideItsValidityIsRejected() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        try fixture.makeResponder("responder", ocspSigning: true, days: 1)
        let response = try fixture.respond(signer: "responder", options: ["-ndays", "5"])
        let status = try fixture.verify(response)
        #expect(status.certStatus == .good)
        let error = #expect(throws: OCSPVerificationError.self) {
            try fixture.verify(response, now: Date().addingTimeInterval(3 * OCSPVerifierTests.day))
        }
        guard case .responderCertificateNotValid = error else {
            Issue.record("expected responderCertificateNotValid, got \(String(describing: error))")
            return
        }
    }

    @Test func responseSignedByAnUnrelatedCAIsRejected() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        try fixture.pki.makeCA("other", key: .p256, commonName: "Other CA")
        // With its certificate included: found, but the issuer did not issue it.
        #expect(
            throws: OCSPVerificationError.responderNotIssuedByIssuer(responder: "CN=Other CA", issuer: "CN=Test rsa CA")
        ) {
            try fixture.verify(try fixture.respond(signer: "other"))
        }
        // Without: no such responder at all.
        let error = #expect(throws: OCSPVerificationError.self) {
            try fixture.verify(try fixture.respond(signer: "other", options: ["-ndays", "1", "-resp_no_certs"]))
        }
        #expect(error == .responderNotFound("name \"CN=Other CA\""))
        #expect(error?.description.contains("CN=Other CA") == true)
    }

    /// Same name as the issuer, different key: the ResponderID matches, the signature does not.
    @Test func impostorWithTheIssuersNameFailsTheSignature() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        try fixture.pki.makeCA("impostor", key: .rsa, commonName: "Test rsa CA")
        #expect(throws: OCSPVerificationError.badSignature(signer: "CN=Test rsa CA")) {
            try fixture.verify(try fixture.respond(signer: "impostor", options: ["-ndays", "1", "-resp_no_certs"]))
        }
    }

    @Test func responseForAnotherCertificateHasNoMatch() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        try fixture.pki.issue(
            "sibling",
            by: "ca",
            commonName: "sibling.example",
            serialHex: "77",
            extensions: ["basicConstraints=CA:FALSE"]
        )
        let sibling = try fixture.pki.certificate("sibling")
        try fixture.pki.write(
            "sibling-req.der", bytes: try OCSPRequestBuilder.request(leaf: sibling, issuer: fixture.issuer))
        try fixture.pki.write(
            "index.txt", TestPKI.indexLine("V", serialHex: "77", commonName: "sibling.example") + "\n")
        let response = try fixture.pki.respond(requestFile: "sibling-req.der", signer: "ca")
        #expect(
            try OCSPResponseVerifier.verify(response, leaf: sibling, issuer: fixture.issuer, now: Date()).certStatus
                == .good)
        #expect(throws: OCSPVerificationError.noMatchingResponse(serial: "1234ABCD")) {
            try fixture.verify(response)
        }
    }

    /// A SHA-256 CertID (openssl's own request with -sha256): matched by computing the hashes with SHA-256.
    @Test func sha256CertIDIsAccepted() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        try fixture.pki.run([
            "openssl", "ocsp", "-issuer", "ca.pem", "-sha256", "-cert", "leaf.pem", "-no_nonce", "-reqout",
            "req256.der",
        ])
        let response = try fixture.pki.respond(requestFile: "req256.der", signer: "ca")
        try fixture.pki.write("resp256.der", bytes: response)
        let text = try fixture.pki.run(["openssl", "ocsp", "-respin", "resp256.der", "-noverify", "-resp_text"])
        #expect(text.contains("Hash Algorithm: sha256"))
        #expect(try fixture.verify(response).certStatus == .good)
    }

    @Test func expiredResponseIsRejected() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        let response = try fixture.respond()
        let later = Date().addingTimeInterval(2 * OCSPVerifierTests.day)
        let error = #expect(throws: OCSPVerificationError.self) { try fixture.verify(response, now: later) }
        guard case .expired(let nextUpdate, let now) = error else {
            Issue.record("expected expired, got \(String(describing: error))")
            return
        }
        #expect(now == later)
        #expect(nextUpdate < later)
        #expect(error?.description.contains("expired") == true)
    }

    @Test func notYetValidBeyondTheLeeway() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        let response = try fixture.respond()
        let status = try fixture.verify(response)
        // Four minutes of clock skew are tolerated, an hour is not.
        #expect(try fixture.verify(response, now: status.thisUpdate.addingTimeInterval(-4 * 60)) == status)
        let earlier = status.thisUpdate.addingTimeInterval(-3600)
        #expect(throws: OCSPVerificationError.notYetValid(thisUpdate: status.thisUpdate, now: earlier)) {
            try fixture.verify(response, now: earlier)
        }
    }

    /// Signature algorithms openssl can be told to use (-rmd), per CA key type.
    @Test(
        arguments: [
            (KeyKind.rsa, "sha1"), (.rsa, "sha256"), (.rsa, "sha384"), (.rsa, "sha512"),
            (.p256, "sha256"), (.p256, "sha384"), (.p256, "sha512"),
            (.ed25519, nil),
        ] as [(KeyKind, String?)])
    func signatureAlgorithms(caKey: KeyKind, digest: String?) throws {
        let fixture = try OCSPFixture(caKey: caKey)
        defer { fixture.pki.remove() }
        let options = ["-ndays", "1"] + (digest.map { ["-rmd", $0] } ?? [])
        #expect(try fixture.verify(try fixture.respond(options: options)).certStatus == .good)
    }

    @Test func unsupportedSignatureAlgorithmsAreNamed() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        let pss = try fixture.respond(options: ["-ndays", "1", "-rsigopt", "rsa_padding_mode:pss"])
        #expect(throws: OCSPVerificationError.unsupportedSignatureAlgorithm("1.2.840.113549.1.1.10")) {
            try fixture.verify(pss)
        }
    }

    /// The signature covers tbsResponseData as received: changing one digit of producedAt breaks it,
    /// and is caught before anything in the response is believed.
    @Test func tamperedResponseFailsTheSignature() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        var response = try fixture.respond(options: ["-ndays", "1", "-resp_no_certs"])
        // The first GeneralizedTime (tag 0x18, length 15) is producedAt; change its last seconds digit.
        let start = try #require(
            response.indices.first { $0 + 1 < response.count && response[$0] == 0x18 && response[$0 + 1] == 0x0F }
        )
        let digit = start + 2 + 13
        response[digit] = response[digit] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        #expect(throws: OCSPVerificationError.badSignature(signer: "CN=Test rsa CA")) { try fixture.verify(response) }

        var signature = try fixture.respond(options: ["-ndays", "1", "-resp_no_certs"])
        signature[signature.count - 1] ^= 0x01
        #expect(throws: OCSPVerificationError.badSignature(signer: "CN=Test rsa CA")) { try fixture.verify(signature) }
    }

    @Test func garbageAndTruncatedResponsesThrow() throws {
        let fixture = try OCSPFixture()
        defer { fixture.pki.remove() }
        let response = try fixture.respond()

        #expect(throws: OCSPVerificationError.self) { try fixture.verify([]) }
        #expect(throws: OCSPVerificationError.self) { try fixture.verify(Array("<html>503</html>".utf8)) }
        var generator = SystemRandomNumberGenerator()
        for length in [1, 2, 16, 300, 2000] {
            let garbage = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(throws: OCSPVerificationError.self) { try fixture.verify(garbage) }
        }
        // Every proper prefix fails to parse; none crashes.
        for length in 0..<response.count {
            #expect(throws: OCSPVerificationError.self) { try fixture.verify(Array(response[..<length])) }
        }
        // Trailing bytes after the DER are not a DER OCSPResponse either.
        #expect(throws: OCSPVerificationError.self) { try fixture.verify(response + [0x00]) }
    }

    /// Flipping the lowest or the highest bit of every byte of a response either throws or leaves
    /// the answer unchanged: never a crash, never a different answer. Signed by the P-256 issuer
    /// (no certificates included), every single change throws; signed by a delegated responder
    /// whose certificate is included, the certificate's own unsigned bytes may absorb a change.
    @Test(arguments: [false, true])
    func bitFlipsNeverChangeTheAnswer(delegated: Bool) throws {
        let fixture = try OCSPFixture(caKey: .p256)
        defer { fixture.pki.remove() }
        if delegated { try fixture.makeResponder("responder", ocspSigning: true) }
        let response = try fixture.respond(
            signer: delegated ? "responder" : "ca",
            options: ["-ndays", "1"] + (delegated ? [] : ["-resp_no_certs"])
        )
        let now = Date()
        let original = try fixture.verify(response, now: now)
        var accepted: [Int] = []
        for index in response.indices {
            for flip: UInt8 in [0x01, 0x80] {
                var mutated = response
                mutated[index] ^= flip
                if let status = try? fixture.verify(mutated, now: now) {
                    #expect(status == original, "byte \(index) ^ \(flip)")
                    accepted.append(index)
                }
            }
        }
        if !delegated { #expect(accepted.isEmpty, "accepted changes at \(accepted)") }
    }

    @Test(
        arguments: [
            (1, OCSPResponderFailure.malformedRequest), (2, .internalError), (3, .tryLater), (5, .sigRequired),
            (6, .unauthorized),
        ] as [(UInt8, OCSPResponderFailure)])
    func unsuccessfulStatusesAreNamed(code: UInt8, failure: OCSPResponderFailure) throws {
        let response: [UInt8] = [0x30, 0x03, 0x0A, 0x01, code]
        let error = #expect(throws: OCSPVerificationError.unsuccessful(failure)) {
            try OCSPResponseVerifier.verify(
                response, leaf: OCSPVerifierTests.dummy.leaf, issuer: OCSPVerifierTests.dummy.issuer, now: Date())
        }
        #expect(error?.description.contains("\(failure)") == true)
    }

    @Test func tryLaterIsNamedInTheMessage() throws {
        let error = #expect(throws: OCSPVerificationError.self) {
            try OCSPResponseVerifier.verify(
                [0x30, 0x03, 0x0A, 0x01, 0x03], leaf: OCSPVerifierTests.dummy.leaf,
                issuer: OCSPVerifierTests.dummy.issuer, now: Date())
        }
        #expect(error?.description == "OCSP responder answered tryLater (responseStatus 3) instead of a response")
    }

    @Test func undefinedStatusAndMissingBytesAndOtherTypes() throws {
        let (leaf, issuer) = OCSPVerifierTests.dummy
        #expect(throws: OCSPVerificationError.malformed("responseStatus 4 is not defined by RFC 6960")) {
            try OCSPResponseVerifier.verify([0x30, 0x03, 0x0A, 0x01, 0x04], leaf: leaf, issuer: issuer, now: Date())
        }
        #expect(throws: OCSPVerificationError.missingResponseBytes) {
            try OCSPResponseVerifier.verify([0x30, 0x03, 0x0A, 0x01, 0x00], leaf: leaf, issuer: issuer, now: Date())
        }
        // successful, responseBytes { 1.2.3, OCTET STRING {} }
        let otherType: [UInt8] = [0x30, 0x0C, 0x0A, 0x01, 0x00, 0xA0, 0x07, 0x30, 0x05, 0x06, 0x01, 0x2A, 0x04, 0x00]
        #expect(throws: OCSPVerificationError.unsupportedResponseType("1.2")) {
            try OCSPResponseVerifier.verify(otherType, leaf: leaf, issuer: issuer, now: Date())
        }
    }

    /// Through a live `openssl ocsp` responder: the URL comes from the leaf's AIA, the request is
    /// POSTed as application/ocsp-request, and what comes back verifies. The responder runs in a
    /// private network namespace, so it is reachable on that namespace's loopback only.
    @Test(.enabled(if: networkNamespaceAvailable, "needs unshare --net"), .timeLimit(.minutes(1)))
    func liveResponderOverHTTP() throws {
        let port = try OCSPVerifierTests.freeLoopbackPort()
        let fixture = try OCSPFixture(responderURL: "http://127.0.0.1:\(port)/")
        defer { fixture.pki.remove() }
        let url = try #require(OCSPRequestBuilder.responderURL(of: fixture.leaf))
        #expect(url == "http://127.0.0.1:\(port)/")
        try fixture.pki.write(
            "live.sh",
            """
            set -eu
            ip link set lo up
            openssl ocsp -index index.txt -port "$1" -rsigner ca.pem -rkey ca.key -CA ca.pem -nrequest 1 >responder.log 2>&1 &
            responder=$!
            ok=0
            for i in $(seq 1 100); do
              if curl -sS --max-time 10 --data-binary @req.der -H 'Content-Type: application/ocsp-request' -o live.der "$2" 2>/dev/null; then ok=1; break; fi
              sleep 0.1
            done
            if [ "$ok" = 1 ]; then wait "$responder"; else kill "$responder"; cat responder.log >&2; exit 1; fi

            """
        )
        try fixture.pki.run(["timeout", "50", "unshare", "--net", "sh", "live.sh", "\(port)", url])
        let status = try fixture.verify(try fixture.pki.read("live.der"))
        #expect(status.certStatus == .good)
        // openssl's responder without -ndays/-nmin sends no nextUpdate.
        #expect(status.nextUpdate == nil)
    }

    static func freeLoopbackPort() throws -> Int {
        let pki = try TestPKI()
        defer { pki.remove() }
        let output = try pki.run([
            "python3", "-c",
            "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])",
        ])
        return try #require(Int(output.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// A fixed certificate pair for tests that never get as far as looking at certificates.
    static let dummy: (leaf: Certificate, issuer: Certificate) = {
        // swift-certificates can mint a self-signed certificate without openssl.
        do {
            let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
            let name = try DistinguishedName { CommonName("dummy") }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: .init(bytes: [1]),
                publicKey: key.publicKey,
                notValidBefore: Date(timeIntervalSince1970: 0),
                notValidAfter: Date(timeIntervalSince1970: 4_000_000_000),
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: Certificate.Extensions(),
                issuerPrivateKey: key
            )
            return (certificate, certificate)
        } catch {
            fatalError("cannot make the dummy certificate: \(error)")
        }
    }()
}
