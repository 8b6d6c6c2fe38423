internal import Testing

@testable internal import MeridianSecurity
import MeridianConfig

@Suite("JWTRejection")
struct JWTRejectionTests {
    static let all: [JWTRejection] = [
        .expired, .notYetValid, .issuedInFuture, .badSignature, .unknownKeyID, .algorithmMismatch,
        .unsupportedAlgorithm, .algorithmNone, .badAudience, .badIssuer, .missingClaim, .malformedAuthorization,
        .malformed(.tooLarge), .malformed(.notCompactJWS), .malformed(.badEncoding), .malformed(.badHeader),
        .malformed(.unsupportedCriticalHeader), .malformed(.badClaimsSet), .malformed(.badClaimValue),
    ]

    @Test("descriptions fit an RFC 6750 error_description quoted-string", arguments: all)
    func descriptionIsSafe(rejection: JWTRejection) {
        // RFC 6750 §3: %x20-21 / %x23-5B / %x5D-7E, i.e. printable ASCII without `"` and `\`.
        let allowed = rejection.description.unicodeScalars.allSatisfy { scalar in
            (0x20...0x7E).contains(scalar.value) && scalar != "\"" && scalar != "\\"
        }
        #expect(allowed)
        #expect(!rejection.description.isEmpty && rejection.description.count < 60)
    }

    @Test("labels are the fixed metrics set")
    func labels() {
        let labels = Set(Self.all.map(\.label))
        #expect(
            labels == [
                "expired", "not_yet_valid", "bad_signature", "unknown_kid", "alg_mismatch", "alg_none",
                "bad_audience", "bad_issuer", "missing_claim", "malformed",
            ])
    }

    @Test("error codes and statuses follow RFC 6750 §3.1")
    func errorCodes() {
        for rejection in Self.all where rejection != .malformedAuthorization {
            #expect(rejection.errorCode == "invalid_token")
            #expect(rejection.httpStatusCode == 401)
        }
        #expect(JWTRejection.malformedAuthorization.errorCode == "invalid_request")
        #expect(JWTRejection.malformedAuthorization.httpStatusCode == 400)
        #expect(JWTRejection.malformedAuthorization.label == "malformed")
    }
}
