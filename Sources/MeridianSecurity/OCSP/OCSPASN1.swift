import Crypto
import Foundation
import SwiftASN1
import X509

// The RFC 6960 structures this module reads and writes. swift-certificates has its own, but they are
// internal to X509, so these are small local copies. Only what stapling needs is modelled; everything
// else (request signatures, extensions) is skipped over, never re-encoded. Every name carries an OCSP
// prefix because these files are copied into a larger module (MeridianSecurity).

/// The object identifiers the OCSP structures use.
enum OCSPObjectIdentifier {
    /// id-sha1: the CertID hash responders universally support.
    static let sha1: ASN1ObjectIdentifier = [1, 3, 14, 3, 2, 26]
    /// id-sha256: accepted in responses too (some responders answer a SHA-1 request with it).
    static let sha256: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 2, 1]
    /// id-pkix-ocsp-basic: the only response type RFC 6960 requires and the only one stapled.
    static let basicResponse: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 48, 1, 1]
}

/// The hash functions a CertID may be computed with.
enum OCSPCertIDHash: Sendable, CaseIterable {
    case sha1
    case sha256

    init?(_ oid: ASN1ObjectIdentifier) {
        switch oid {
        case OCSPObjectIdentifier.sha1: self = .sha1
        case OCSPObjectIdentifier.sha256: self = .sha256
        default: return nil
        }
    }

    var oid: ASN1ObjectIdentifier {
        switch self {
        case .sha1: OCSPObjectIdentifier.sha1
        case .sha256: OCSPObjectIdentifier.sha256
        }
    }

    func digest(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        switch self {
        // SHA-1 is the identifier-matching hash OCSP settled on, not a signature: collisions don't matter here.
        case .sha1: Array(Insecure.SHA1.hash(data: bytes))
        case .sha256: Array(SHA256.hash(data: bytes))
        }
    }
}

/// The parts of a certificate that OCSP hashes or copies, exactly as they were encoded and signed.
///
/// They are cut out of `tbsCertificateBytes` rather than re-serialized from swift-certificates' model,
/// because re-encoding can change bytes (SET OF ordering in names, EC point form, negative serials)
/// and then the hashes would not match the ones the CA's responder computes.
struct OCSPRawCertificateFields: Sendable {
    /// The serial number INTEGER's content octets as encoded (a request copies them unchanged,
    /// negative and all, and a response's CertID is compared with them byte for byte).
    var serialNumber: ArraySlice<UInt8>
    /// The DER of the subject Name (what issuerNameHash hashes, for the issuer).
    var subject: ArraySlice<UInt8>
    /// The subjectPublicKey BIT STRING's key bits, without tag, length and unused-bits octet
    /// (what issuerKeyHash and a byKey ResponderID hash).
    var subjectPublicKey: ArraySlice<UInt8>

    init(_ certificate: Certificate) throws {
        let tbs = try DER.parse(certificate.tbsCertificateBytes)
        guard tbs.identifier == .sequence, case .constructed(let children) = tbs.content else {
            throw ASN1Error.unexpectedFieldType(tbs.identifier)
        }
        var nodes = children.makeIterator()
        var node = nodes.next()
        // version [0] EXPLICIT Version DEFAULT v1
        if node?.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) {
            node = nodes.next()
        }
        guard let serialNode = node, serialNode.identifier == .integer,
            case .primitive(let serialContent) = serialNode.content
        else {
            throw ASN1Error.invalidASN1Object(reason: "TBSCertificate has no serialNumber INTEGER")
        }
        // signature, issuer, validity: not needed.
        for _ in 0..<3 { _ = nodes.next() }
        guard let subjectNode = nodes.next(), subjectNode.identifier == .sequence else {
            throw ASN1Error.invalidASN1Object(reason: "TBSCertificate has no subject Name")
        }
        guard let spkiNode = nodes.next() else {
            throw ASN1Error.invalidASN1Object(reason: "TBSCertificate has no subjectPublicKeyInfo")
        }
        self.subjectPublicKey = try DER.sequence(spkiNode, identifier: .sequence) { nodes in
            _ = nodes.next()  // AlgorithmIdentifier
            return try ASN1BitString(derEncoded: &nodes).bytes
        }
        self.serialNumber = serialContent
        self.subject = subjectNode.encodedBytes
    }
}

/// CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash OCTET STRING,
///                       issuerKeyHash OCTET STRING, serialNumber CertificateSerialNumber }
struct OCSPCertID: DERParseable, DERSerializable, Hashable, Sendable {
    var hashAlgorithm: ASN1ObjectIdentifier
    var issuerNameHash: ArraySlice<UInt8>
    var issuerKeyHash: ArraySlice<UInt8>
    /// The INTEGER's content octets, compared byte for byte (a DER integer has one encoding).
    var serialNumber: ArraySlice<UInt8>

    /// The CertID a responder computes for `leaf`, issued by `issuer`, with `hash`.
    init(hash: OCSPCertIDHash, leaf: OCSPRawCertificateFields, issuer: OCSPRawCertificateFields) {
        self.hashAlgorithm = hash.oid
        self.issuerNameHash = hash.digest(issuer.subject)[...]
        self.issuerKeyHash = hash.digest(issuer.subjectPublicKey)[...]
        self.serialNumber = leaf.serialNumber
    }

    init(derEncoded node: ASN1Node) throws {
        (self.hashAlgorithm, self.issuerNameHash, self.issuerKeyHash, self.serialNumber) = try DER.sequence(
            node,
            identifier: .sequence
        ) { nodes in
            // Parameters are NULL or absent (both are seen in the wild) and say nothing for a hash.
            let hashAlgorithm = try OCSPASN1.algorithmOID(&nodes, in: "CertID")
            let nameHash = try ASN1OctetString(derEncoded: &nodes).bytes
            let keyHash = try ASN1OctetString(derEncoded: &nodes).bytes
            let serial = try ArraySlice<UInt8>(derEncoded: &nodes)
            return (hashAlgorithm, nameHash, keyHash, serial)
        }
    }

    func serialize(into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(self.hashAlgorithm)
                // NULL parameters, as OpenSSL (and so nginx) encodes them.
                try coder.serialize(ASN1Null())
            }
            try coder.serialize(ASN1OctetString(contentBytes: self.issuerNameHash))
            try coder.serialize(ASN1OctetString(contentBytes: self.issuerKeyHash))
            // The certificate's own content octets: no re-encoding of the number.
            coder.appendPrimitiveNode(identifier: .integer) { $0.append(contentsOf: self.serialNumber) }
        }
    }
}

/// Small parsing helpers shared by the structures below.
enum OCSPASN1 {
    /// The algorithm OID of the AlgorithmIdentifier that is the next node; its parameters are skipped.
    static func algorithmOID(
        _ nodes: inout ASN1NodeCollection.Iterator,
        in structure: String
    ) throws -> ASN1ObjectIdentifier {
        guard let node = nodes.next() else {
            throw ASN1Error.invalidASN1Object(reason: "\(structure) is missing an AlgorithmIdentifier")
        }
        return try DER.sequence(node, identifier: .sequence) { algorithm in
            let oid = try ASN1ObjectIdentifier(derEncoded: &algorithm)
            _ = algorithm.next()
            return oid
        }
    }

    /// Upper-case hex, as OpenSSL prints serial numbers and key hashes, for error messages.
    static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        let digits = Array("0123456789ABCDEF")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
    }

    /// The next node, which `structure` requires.
    static func required(
        _ nodes: inout ASN1NodeCollection.Iterator,
        _ field: String,
        in structure: String
    ) throws -> ASN1Node {
        guard let node = nodes.next() else {
            throw ASN1Error.invalidASN1Object(reason: "\(structure) has no \(field)")
        }
        return node
    }
}

/// OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT ResponseBytes OPTIONAL }
/// ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER, response OCTET STRING }
struct OCSPResponseEnvelope: DERParseable, Sendable {
    /// The raw responseStatus; values outside RFC 6960's list are kept so the error can show them.
    var status: Int
    var responseType: ASN1ObjectIdentifier?
    var response: ArraySlice<UInt8>?

    init(derEncoded node: ASN1Node) throws {
        (self.status, self.responseType, self.response) = try DER.sequence(node, identifier: .sequence) { nodes in
            let status = try Int(derEncoded: &nodes, withIdentifier: .enumerated)
            let bytes = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) { node in
                try DER.sequence(node, identifier: .sequence) { nodes in
                    (try ASN1ObjectIdentifier(derEncoded: &nodes), try ASN1OctetString(derEncoded: &nodes).bytes)
                }
            }
            return (status, bytes?.0, bytes?.1)
        }
    }
}

/// BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, signatureAlgorithm AlgorithmIdentifier,
///                                  signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
struct OCSPBasicResponse: DERParseable, Sendable {
    /// The tbsResponseData exactly as received: the signature is over these bytes, and a
    /// re-serialization could differ from what the responder signed.
    var tbsResponseDataBytes: ArraySlice<UInt8>
    var responseData: OCSPResponseData
    var signatureAlgorithm: ASN1ObjectIdentifier
    var signature: ArraySlice<UInt8>
    var certs: [Certificate]

    init(derEncoded node: ASN1Node) throws {
        (self.tbsResponseDataBytes, self.responseData, self.signatureAlgorithm, self.signature, self.certs) =
            try DER.sequence(node, identifier: .sequence) { nodes in
                let dataNode = try OCSPASN1.required(&nodes, "tbsResponseData", in: "BasicOCSPResponse")
                let data = try OCSPResponseData(derEncoded: dataNode)
                // Parameters: NULL for RSA PKCS#1, absent for ECDSA and Ed25519; the OID alone picks the check.
                let algorithm = try OCSPASN1.algorithmOID(&nodes, in: "BasicOCSPResponse")
                // A signature is whole octets; unused bits would be bytes outside what is verified.
                let signature = try ASN1BitString(derEncoded: &nodes)
                guard signature.paddingBits == 0 else {
                    throw ASN1Error.invalidASN1Object(reason: "signature BIT STRING has unused bits")
                }
                let certs =
                    try DER.optionalExplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) { node in
                        try DER.sequence(of: Certificate.self, identifier: .sequence, rootNode: node)
                    } ?? []
                return (dataNode.encodedBytes, data, algorithm, signature.bytes, certs)
            }
    }
}

/// ResponseData ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, responderID ResponderID,
///     producedAt GeneralizedTime, responses SEQUENCE OF SingleResponse,
///     responseExtensions [1] EXPLICIT Extensions OPTIONAL }
struct OCSPResponseData: DERParseable, Sendable {
    var version: Int
    var responderID: OCSPResponderID
    var producedAt: GeneralizedTime
    var responses: [OCSPSingleResponse]

    init(derEncoded node: ASN1Node) throws {
        (self.version, self.responderID, self.producedAt, self.responses) = try DER.sequence(
            node,
            identifier: .sequence
        ) { nodes in
            let version =
                try DER.optionalExplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) { node in
                    try Int(derEncoded: node)
                } ?? 0
            let responderID = try OCSPResponderID(derEncoded: &nodes)
            let producedAt = try GeneralizedTime(derEncoded: &nodes)
            let responses = try DER.sequence(of: OCSPSingleResponse.self, identifier: .sequence, nodes: &nodes)
            // Extensions (a nonce at most, which a stapling request does not ask for) are not interpreted.
            _ = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 1, tagClass: .contextSpecific) { $0 }
            return (version, responderID, producedAt, responses)
        }
    }
}

/// ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash } (explicit tags: RFC 6960's module
/// uses EXPLICIT TAGS). KeyHash is the SHA-1 of the responder's subjectPublicKey key bits.
enum OCSPResponderID: DERParseable, Sendable, CustomStringConvertible {
    case byName(DistinguishedName)
    case byKey(ArraySlice<UInt8>)

    init(derEncoded node: ASN1Node) throws {
        switch node.identifier {
        case ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific):
            self = .byName(
                try DER.explicitlyTagged(node, tagNumber: 1, tagClass: .contextSpecific) {
                    try DistinguishedName(derEncoded: $0)
                }
            )
        case ASN1Identifier(tagWithNumber: 2, tagClass: .contextSpecific):
            self = .byKey(
                try DER.explicitlyTagged(node, tagNumber: 2, tagClass: .contextSpecific) {
                    try ASN1OctetString(derEncoded: $0).bytes
                }
            )
        default:
            throw ASN1Error.unexpectedFieldType(node.identifier)
        }
    }

    /// Whether `certificate` (whose raw fields are `fields`) is the responder this ID names.
    func matches(_ certificate: Certificate, fields: OCSPRawCertificateFields) -> Bool {
        switch self {
        case .byName(let name): name == certificate.subject
        case .byKey(let hash): OCSPCertIDHash.sha1.digest(fields.subjectPublicKey)[...] == hash
        }
    }

    var description: String {
        switch self {
        case .byName(let name): "name \"\(name)\""
        case .byKey(let hash): "key hash \(OCSPASN1.hex(hash))"
        }
    }
}

/// SingleResponse ::= SEQUENCE { certID CertID, certStatus CertStatus, thisUpdate GeneralizedTime,
///     nextUpdate [0] EXPLICIT GeneralizedTime OPTIONAL, singleExtensions [1] EXPLICIT Extensions OPTIONAL }
struct OCSPSingleResponse: DERParseable, Sendable {
    var certID: OCSPCertID
    var certStatus: OCSPStatus.CertStatus
    var thisUpdate: GeneralizedTime
    var nextUpdate: GeneralizedTime?

    init(derEncoded node: ASN1Node) throws {
        (self.certID, self.certStatus, self.thisUpdate, self.nextUpdate) = try DER.sequence(
            node,
            identifier: .sequence
        ) { nodes in
            let certID = try OCSPCertID(derEncoded: &nodes)
            let status = try OCSPSingleResponse.certStatus(
                try OCSPASN1.required(&nodes, "certStatus", in: "SingleResponse")
            )
            let thisUpdate = try GeneralizedTime(derEncoded: &nodes)
            let nextUpdate = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) {
                try GeneralizedTime(derEncoded: $0)
            }
            _ = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 1, tagClass: .contextSpecific) { $0 }
            return (certID, status, thisUpdate, nextUpdate)
        }
    }

    /// CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL }
    /// RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
    private static func certStatus(_ node: ASN1Node) throws -> OCSPStatus.CertStatus {
        let good = ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)
        let revoked = ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific)
        let unknown = ASN1Identifier(tagWithNumber: 2, tagClass: .contextSpecific)
        switch node.identifier {
        case good:
            _ = try ASN1Null(derEncoded: node, withIdentifier: good)
            return .good
        case unknown:
            _ = try ASN1Null(derEncoded: node, withIdentifier: unknown)
            return .unknown
        case revoked:
            return try DER.sequence(node, identifier: revoked) { nodes in
                let time = try GeneralizedTime(derEncoded: &nodes)
                let reason = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) {
                    try Int(derEncoded: $0, withIdentifier: .enumerated)
                }
                return .revoked(at: OCSPTime.date(time), reason: reason)
            }
        default:
            throw ASN1Error.unexpectedFieldType(node.identifier)
        }
    }
}

/// GeneralizedTime to Date without Calendar: OCSP times are UTC ("Z") by RFC 5280's profile, and
/// plain arithmetic avoids any dependence on the process's time zone or calendar settings.
enum OCSPTime {
    static func date(_ time: GeneralizedTime) -> Date {
        let days = daysSince1970(year: time.year, month: time.month, day: time.day)
        let seconds = time.hours * 3600 + time.minutes * 60 + time.seconds
        return Date(timeIntervalSince1970: Double(days) * 86_400 + Double(seconds) + time.fractionalSeconds)
    }

    /// Days from 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
    static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
