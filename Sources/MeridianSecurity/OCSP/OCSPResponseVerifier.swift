public import Foundation
import SwiftASN1
public import X509

/// What a verified OCSP response says about one certificate.
public struct OCSPStatus: Sendable, Equatable {
    /// The responder's verdict. `revoked` and `unknown` are answers, not verification failures:
    /// the caller decides what to do with them (nginx only staples `good`).
    public enum CertStatus: Sendable, Equatable {
        case good
        /// `reason` is the CRLReason code (RFC 5280 §5.3.1: 1 keyCompromise, 4 superseded, ...) when given.
        case revoked(at: Date, reason: Int?)
        case unknown
    }

    public var certStatus: CertStatus
    /// When the responder last knew the status to be correct.
    public var thisUpdate: Date
    /// When newer information will be available; past it the response must not be used.
    /// nil means the responder always has newer information.
    public var nextUpdate: Date?
    /// When the responder signed the response.
    public var producedAt: Date

    public init(certStatus: CertStatus, thisUpdate: Date, nextUpdate: Date?, producedAt: Date) {
        self.certStatus = certStatus
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
        self.producedAt = producedAt
    }
}

/// The OCSPResponseStatus values of RFC 6960 §4.2.1 other than `successful`.
public enum OCSPResponderFailure: Int, Sendable, Hashable, CustomStringConvertible {
    /// The responder could not parse the request.
    case malformedRequest = 1
    /// The responder is in an inconsistent internal state.
    case internalError = 2
    /// The responder is temporarily unable to answer; try again later.
    case tryLater = 3
    /// The responder wants signed requests.
    case sigRequired = 5
    /// The responder does not answer for this certificate (e.g. it is not this CA's responder).
    case unauthorized = 6

    public var description: String {
        switch self {
        case .malformedRequest: "malformedRequest"
        case .internalError: "internalError"
        case .tryLater: "tryLater"
        case .sigRequired: "sigRequired"
        case .unauthorized: "unauthorized"
        }
    }
}

/// Why an OCSP response must not be stapled. Each case's description says what was wrong.
public enum OCSPVerificationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not a DER OCSPResponse (the parser's reason).
    case malformed(String)
    /// The responder answered with an error status instead of a response.
    case unsuccessful(OCSPResponderFailure)
    /// responseStatus was successful but no responseBytes came with it.
    case missingResponseBytes
    /// responseBytes hold something other than id-pkix-ocsp-basic (the dotted OID).
    case unsupportedResponseType(String)
    /// ResponseData's version is not v1 (the version number as written, v1 = 1).
    case unsupportedVersion(Int)
    /// Neither the issuer nor a certificate in the response is the responder the ResponderID names.
    case responderNotFound(String)
    /// The signer is a delegated responder the leaf's issuer did not issue.
    case responderNotIssuedByIssuer(responder: String, issuer: String)
    /// The signer is a delegated responder without the id-kp-OCSPSigning extended key usage.
    case responderNotAuthorized(responder: String)
    /// The delegated responder's certificate is outside its validity period at verification time.
    case responderCertificateNotValid(responder: String, notBefore: Date, notAfter: Date, now: Date)
    /// The response is signed with an algorithm this verifier does not check (the dotted OID).
    case unsupportedSignatureAlgorithm(String)
    /// The signature over tbsResponseData does not verify with the signer's key.
    case badSignature(signer: String)
    /// No SingleResponse is about the leaf (hex serial number): the answer is for another certificate.
    case noMatchingResponse(serial: String)
    /// thisUpdate is further in the future than the clock-skew leeway allows.
    case notYetValid(thisUpdate: Date, now: Date)
    /// nextUpdate has passed: clients reject such a staple.
    case expired(nextUpdate: Date, now: Date)

    public var description: String {
        switch self {
        case .malformed(let reason):
            "OCSP response is not a valid DER OCSPResponse: \(reason)"
        case .unsuccessful(let failure):
            "OCSP responder answered \(failure) (responseStatus \(failure.rawValue)) instead of a response"
        case .missingResponseBytes:
            "OCSP response says successful but carries no responseBytes"
        case .unsupportedResponseType(let oid):
            "OCSP response type \(oid) is not id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1)"
        case .unsupportedVersion(let version):
            "OCSP ResponseData version v\(version) is not supported (only v1)"
        case .responderNotFound(let id):
            "OCSP response is signed by the responder with \(id), which is neither the issuer nor a certificate included in the response"
        case .responderNotIssuedByIssuer(let responder, let issuer):
            "OCSP response is signed by \"\(responder)\", which was not issued by the certificate's issuer \"\(issuer)\""
        case .responderNotAuthorized(let responder):
            "OCSP response is signed by delegated responder \"\(responder)\", whose certificate lacks the id-kp-OCSPSigning extended key usage (RFC 6960 §4.2.2.2)"
        case .responderCertificateNotValid(let responder, let notBefore, let notAfter, let now):
            "OCSP responder certificate \"\(responder)\" is valid from \(notBefore) to \(notAfter), not at \(now)"
        case .unsupportedSignatureAlgorithm(let oid):
            "OCSP response signature algorithm \(oid) is not supported"
        case .badSignature(let signer):
            "OCSP response signature does not verify with the key of \"\(signer)\""
        case .noMatchingResponse(let serial):
            "OCSP response has no answer for the certificate with serial number \(serial)"
        case .notYetValid(let thisUpdate, let now):
            "OCSP response thisUpdate \(thisUpdate) is in the future (now \(now), more than \(Int(OCSPResponseVerifier.clockSkewLeeway)) s of leeway)"
        case .expired(let nextUpdate, let now):
            "OCSP response expired: nextUpdate \(nextUpdate) has passed (now \(now))"
        }
    }
}

/// Verifies an OCSP response before it is stapled, as nginx's `ssl_stapling_verify` does: a staple
/// that a client would reject (wrong signer, wrong certificate, stale) is worse than none, since
/// a client that requires a staple then fails the handshake.
public enum OCSPResponseVerifier {
    /// How far thisUpdate may lie in the future: the responder's and this server's clocks differ.
    /// Five minutes, as nginx (NGX_SSL_OCSP_VALID_DELAY) and OpenSSL's OCSP_check_validity use.
    public static let clockSkewLeeway: TimeInterval = 300

    /// Parses and verifies a DER OCSPResponse for `leaf` (issued by `issuer`) at `now`.
    ///
    /// Checks, in order: the response status is successful, the type is id-pkix-ocsp-basic, the
    /// signer is the issuer or a delegated responder (included in the response, issued by the issuer,
    /// with id-kp-OCSPSigning, within its validity) named by the ResponderID, the signature over
    /// tbsResponseData as received verifies, a SingleResponse matches the leaf's CertID (SHA-1 or
    /// SHA-256), and the update times are current. The signature is checked before the contents are
    /// trusted. Revoked and unknown answers are returned, not thrown.
    public static func verify(_ der: [UInt8], leaf: Certificate, issuer: Certificate, now: Date) throws -> OCSPStatus {
        let basic = try OCSPResponseVerifier.basicResponse(der)
        let data = basic.responseData
        guard data.version == 0 else { throw OCSPVerificationError.unsupportedVersion(data.version + 1) }

        let leafFields = try OCSPResponseVerifier.fields(leaf, "leaf")
        let issuerFields = try OCSPResponseVerifier.fields(issuer, "issuer")
        try OCSPResponseVerifier.verifySignature(basic, issuer: issuer, now: now)

        let single = try OCSPResponseVerifier.response(in: data.responses, leaf: leafFields, issuer: issuerFields)
        let status = OCSPStatus(
            certStatus: single.certStatus,
            thisUpdate: OCSPTime.date(single.thisUpdate),
            nextUpdate: single.nextUpdate.map(OCSPTime.date),
            producedAt: OCSPTime.date(data.producedAt)
        )
        try OCSPResponseVerifier.checkTimes(status, now: now)
        return status
    }

    /// Verifies a response for a checked pair.
    public static func verify(_ der: [UInt8], for pair: OCSPCertificatePair, now: Date) throws -> OCSPStatus {
        try OCSPResponseVerifier.verify(der, leaf: pair.leaf, issuer: pair.issuer, now: now)
    }

    /// The BasicOCSPResponse inside a successful OCSPResponse.
    static func basicResponse(_ der: [UInt8]) throws -> OCSPBasicResponse {
        let envelope = try OCSPResponseVerifier.parse { try OCSPResponseEnvelope(derEncoded: der) }
        guard envelope.status == 0 else {
            guard let failure = OCSPResponderFailure(rawValue: envelope.status) else {
                throw OCSPVerificationError.malformed("responseStatus \(envelope.status) is not defined by RFC 6960")
            }
            throw OCSPVerificationError.unsuccessful(failure)
        }
        guard let type = envelope.responseType, let bytes = envelope.response else {
            throw OCSPVerificationError.missingResponseBytes
        }
        guard type == OCSPObjectIdentifier.basicResponse else {
            throw OCSPVerificationError.unsupportedResponseType(type.description)
        }
        return try OCSPResponseVerifier.parse { try OCSPBasicResponse(derEncoded: bytes) }
    }

    /// Finds the signer among the issuer and the included certificates and checks its signature.
    /// Every candidate the ResponderID names is tried (a response may carry look-alikes); when none
    /// passes, the first candidate's failure is reported, as the most telling one.
    static func verifySignature(_ basic: OCSPBasicResponse, issuer: Certificate, now: Date) throws {
        guard let algorithm = OCSPResponseVerifier.signatureAlgorithm(basic.signatureAlgorithm) else {
            throw OCSPVerificationError.unsupportedSignatureAlgorithm(basic.signatureAlgorithm.description)
        }
        let responderID = basic.responseData.responderID
        var firstFailure: OCSPVerificationError?
        for candidate in [issuer] + basic.certs {
            guard let fields = try? OCSPRawCertificateFields(candidate),
                responderID.matches(candidate, fields: fields)
            else { continue }
            do {
                if candidate != issuer {
                    try OCSPResponseVerifier.authorizeDelegate(candidate, issuer: issuer, now: now)
                }
                guard
                    candidate.publicKey.isValidSignature(
                        basic.signature,
                        for: basic.tbsResponseDataBytes,
                        signatureAlgorithm: algorithm
                    )
                else { throw OCSPVerificationError.badSignature(signer: "\(candidate.subject)") }
                return
            } catch let failure as OCSPVerificationError {
                firstFailure = firstFailure ?? failure
            }
        }
        throw firstFailure ?? OCSPVerificationError.responderNotFound(responderID.description)
    }

    /// RFC 6960 §4.2.2.2: a delegated responder is issued directly by the CA that issued the
    /// certificate in question and carries id-kp-OCSPSigning. Its validity is checked too, as
    /// OpenSSL's chain verification (and so nginx) does.
    static func authorizeDelegate(_ responder: Certificate, issuer: Certificate, now: Date) throws {
        guard responder.issuer == issuer.subject,
            issuer.publicKey.isValidSignature(responder.signature, for: responder)
        else {
            throw OCSPVerificationError.responderNotIssuedByIssuer(
                responder: "\(responder.subject)",
                issuer: "\(issuer.subject)"
            )
        }
        guard let usage = try? responder.extensions.extendedKeyUsage, usage.contains(.ocspSigning) else {
            throw OCSPVerificationError.responderNotAuthorized(responder: "\(responder.subject)")
        }
        guard responder.notValidBefore <= now, now <= responder.notValidAfter else {
            throw OCSPVerificationError.responderCertificateNotValid(
                responder: "\(responder.subject)",
                notBefore: responder.notValidBefore,
                notAfter: responder.notValidAfter,
                now: now
            )
        }
    }

    /// The SingleResponse whose CertID names the leaf: same hash algorithm (SHA-1 or SHA-256),
    /// issuer name and key hashes, and serial number.
    static func response(
        in responses: [OCSPSingleResponse],
        leaf: OCSPRawCertificateFields,
        issuer: OCSPRawCertificateFields
    ) throws -> OCSPSingleResponse {
        for single in responses {
            guard let hash = OCSPCertIDHash(single.certID.hashAlgorithm) else { continue }
            if single.certID == OCSPCertID(hash: hash, leaf: leaf, issuer: issuer) { return single }
        }
        throw OCSPVerificationError.noMatchingResponse(serial: OCSPASN1.hex(leaf.serialNumber))
    }

    /// thisUpdate not beyond the leeway in the future; nextUpdate, if any, not passed.
    static func checkTimes(_ status: OCSPStatus, now: Date) throws {
        if status.thisUpdate > now.addingTimeInterval(OCSPResponseVerifier.clockSkewLeeway) {
            throw OCSPVerificationError.notYetValid(thisUpdate: status.thisUpdate, now: now)
        }
        guard let nextUpdate = status.nextUpdate else { return }
        if nextUpdate < status.thisUpdate {
            throw OCSPVerificationError.malformed("nextUpdate \(nextUpdate) precedes thisUpdate \(status.thisUpdate)")
        }
        if nextUpdate <= now {
            throw OCSPVerificationError.expired(nextUpdate: nextUpdate, now: now)
        }
    }

    /// The public swift-certificates algorithm for a signature OID; RSASSA-PSS and anything else
    /// swift-certificates can't verify is nil.
    static func signatureAlgorithm(_ oid: ASN1ObjectIdentifier) -> Certificate.SignatureAlgorithm? {
        switch oid {
        case [1, 2, 840, 113_549, 1, 1, 5]: .sha1WithRSAEncryption
        case [1, 2, 840, 113_549, 1, 1, 11]: .sha256WithRSAEncryption
        case [1, 2, 840, 113_549, 1, 1, 12]: .sha384WithRSAEncryption
        case [1, 2, 840, 113_549, 1, 1, 13]: .sha512WithRSAEncryption
        case [1, 2, 840, 10045, 4, 3, 2]: .ecdsaWithSHA256
        case [1, 2, 840, 10045, 4, 3, 3]: .ecdsaWithSHA384
        case [1, 2, 840, 10045, 4, 3, 4]: .ecdsaWithSHA512
        case [1, 3, 101, 112]: .ed25519
        default: nil
        }
    }

    private static func fields(_ certificate: Certificate, _ role: String) throws -> OCSPRawCertificateFields {
        do {
            return try OCSPRawCertificateFields(certificate)
        } catch {
            throw OCSPCertificateError.unreadableCertificate(role, "\(error)")
        }
    }

    /// Runs a parser, turning its errors into `malformed` so callers see one error type.
    private static func parse<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as OCSPVerificationError {
            throw error
        } catch {
            throw OCSPVerificationError.malformed("\(error)")
        }
    }
}
