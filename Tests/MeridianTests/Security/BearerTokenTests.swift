internal import MeridianSecurity
import MeridianConfig
internal import Testing

@Suite("BearerToken.extract (RFC 6750 §2.1)")
struct BearerTokenTests {
    @Test(
        "a well-formed header yields the token",
        arguments: [
            ("Bearer abc.def.ghi", "abc.def.ghi"),
            ("bearer abc", "abc"),
            ("BEARER abc", "abc"),
            ("BeArEr abc", "abc"),
            ("Bearer  abc", "abc"),  // 1*SP
            ("  Bearer abc \t", "abc"),  // OWS around the field value
            ("Bearer a-b_c~d+e/f==", "a-b_c~d+e/f=="),
            ("Bearer ==", nil),
        ] as [(String, String?)]
    )
    func token(header: String, expected: String?) {
        let extraction = BearerToken.extract(authorization: header)
        if let expected {
            #expect(extraction == .token(expected[...]))
        } else {
            #expect(extraction == .malformed(.malformedAuthorization))
        }
    }

    @Test(
        "no bearer credentials: no header, empty, or another scheme",
        arguments: [nil, "", "   ", "Basic dXNlcjpwYXNz", "Bearerabc", "Negotiate", "Digest username=x"] as [String?]
    )
    func noCredentials(header: String?) {
        #expect(BearerToken.extract(authorization: header) == .noCredentials)
    }

    @Test(
        "Bearer with a missing or invalid token is malformed",
        arguments: [
            "Bearer", "Bearer ", "bearer\tabc", "Bearer abc def", "Bearer abc,def", "Bearer ab=c", "Bearer \"abc\"",
            "Bearer abc\u{0}", "Bearer é",
        ]
    )
    func malformed(header: String) {
        let extraction = BearerToken.extract(authorization: header)
        #expect(extraction == .malformed(.malformedAuthorization))
        if case .malformed(let rejection) = extraction {
            #expect(rejection.errorCode == "invalid_request")
        }
    }
}
