import SwiftASN1
public import X509

/// A leaf certificate and the certificate of the CA that issued it: what OCSP needs to name the leaf
/// (the CertID hashes the issuer's name and key) and to check who signed the answer.
public struct OCSPCertificatePair: Sendable, Hashable {
    public let leaf: Certificate
    public let issuer: Certificate

    /// Checks that `issuer` signed `leaf`, because a wrong pairing (a chain file in the wrong order,
    /// a cross-signed intermediate) makes every request name a certificate the responder doesn't know,
    /// which would otherwise only show up as "unknown" answers much later.
    public init(leaf: Certificate, issuer: Certificate) throws {
        guard leaf.issuer == issuer.subject,
            issuer.publicKey.isValidSignature(leaf.signature, for: leaf)
        else {
            throw OCSPCertificateError.notIssuedBy(leaf: "\(leaf.subject)", issuer: "\(issuer.subject)")
        }
        self.leaf = leaf
        self.issuer = issuer
    }

    /// The two certificates as PEM text, each holding one CERTIFICATE block.
    public init(leafPEM: String, issuerPEM: String) throws {
        try self.init(
            leaf: try OCSPCertificatePair.certificate(leafPEM, "leaf"),
            issuer: try OCSPCertificatePair.certificate(issuerPEM, "issuer")
        )
    }

    /// A full-chain PEM as servers are configured with (leaf first, then its issuer, then anything
    /// else, which is ignored).
    public init(chainPEM: String) throws {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: chainPEM)
        } catch {
            throw OCSPCertificateError.unreadableCertificate("chain", "\(error)")
        }
        let certificates = documents.filter { $0.discriminator == Certificate.defaultPEMDiscriminator }
        guard certificates.count >= 2 else {
            throw OCSPCertificateError.unreadableCertificate(
                "chain",
                "needs the leaf and its issuer, found \(certificates.count) certificate(s)"
            )
        }
        do {
            try self.init(
                leaf: try Certificate(pemDocument: certificates[0]),
                issuer: try Certificate(pemDocument: certificates[1]))
        } catch let error as OCSPCertificateError {
            throw error
        } catch {
            throw OCSPCertificateError.unreadableCertificate("chain", "\(error)")
        }
    }

    private static func certificate(_ pem: String, _ role: String) throws -> Certificate {
        do {
            return try Certificate(pemEncoded: pem)
        } catch {
            throw OCSPCertificateError.unreadableCertificate(role, "\(error)")
        }
    }
}

/// Why a certificate can't be used for OCSP.
public enum OCSPCertificateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The PEM or DER could not be read (which certificate, and the parser's reason).
    case unreadableCertificate(String, String)
    /// The "issuer" did not issue the leaf: the pair would produce requests nobody can answer.
    case notIssuedBy(leaf: String, issuer: String)

    public var description: String {
        switch self {
        case .unreadableCertificate(let role, let reason):
            "OCSP: cannot read the \(role) certificate: \(reason)"
        case .notIssuedBy(let leaf, let issuer):
            "OCSP: the certificate \"\(leaf)\" was not issued by \"\(issuer)\" (is the chain in the wrong order?)"
        }
    }
}

/// Builds the request a stapling server sends to its CA's OCSP responder.
public enum OCSPRequestBuilder {
    /// DER OCSPRequest (RFC 6960 §4.1.1) for one certificate: CertID with SHA-1 (what responders
    /// universally support; RFC 5019's lightweight profile requires it), no nonce (a stapled response
    /// is shared by all clients, and CAs like Let's Encrypt ignore nonces), unsigned.
    public static func request(leaf: Certificate, issuer: Certificate) throws -> [UInt8] {
        let certID = try OCSPRequestBuilder.certID(.sha1, leaf: leaf, issuer: issuer)
        var coder = DER.Serializer()
        // OCSPRequest { tbsRequest TBSRequest { requestList SEQUENCE OF Request { reqCert CertID } } }
        // version is DEFAULT v1, so DER omits it.
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    try coder.appendConstructedNode(identifier: .sequence) { coder in
                        try coder.serialize(certID)
                    }
                }
            }
        }
        return coder.serializedBytes
    }

    /// The request for a checked pair.
    public static func request(for pair: OCSPCertificatePair) throws -> [UInt8] {
        try OCSPRequestBuilder.request(leaf: pair.leaf, issuer: pair.issuer)
    }

    /// The responder URL from the leaf's Authority Information Access extension (the first OCSP
    /// entry that is a URI), or nil when there is none or the extension can't be decoded: a
    /// certificate without a responder simply isn't stapled.
    public static func responderURL(of leaf: Certificate) -> String? {
        guard let access = try? leaf.extensions.authorityInformationAccess else { return nil }
        for description in access where description.method == .ocspServer {
            if case .uniformResourceIdentifier(let uri) = description.location { return uri }
        }
        return nil
    }

    /// The CertID naming `leaf` under `issuer`, cut from both certificates' encoded bytes.
    static func certID(_ hash: OCSPCertIDHash, leaf: Certificate, issuer: Certificate) throws -> OCSPCertID {
        do {
            return OCSPCertID(
                hash: hash,
                leaf: try OCSPRawCertificateFields(leaf),
                issuer: try OCSPRawCertificateFields(issuer)
            )
        } catch {
            throw OCSPCertificateError.unreadableCertificate("leaf or issuer", "\(error)")
        }
    }
}
