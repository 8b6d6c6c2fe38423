internal import MeridianSecurity
import MeridianConfig
internal import Testing

@Suite("BearerChallenge (RFC 6750 §3)")
struct BearerChallengeTests {
    @Test("no credentials: realm only, no error attribute")
    func bare() {
        let challenge = BearerChallenge(realm: "api")
        #expect(challenge.headerValue == #"Bearer realm="api""#)
        #expect(challenge.httpStatusCode == 401)
        #expect(BearerChallenge(realm: nil).headerValue == "Bearer")
    }

    @Test("a rejected token adds error and error_description")
    func rejected() {
        let challenge = BearerChallenge(realm: "api", rejection: .expired)
        #expect(
            challenge.headerValue == #"Bearer realm="api", error="invalid_token", error_description="token expired""#)
        let request = BearerChallenge(realm: nil, rejection: .malformedAuthorization)
        #expect(
            request.headerValue
                == #"Bearer error="invalid_request", error_description="malformed authorization header""#)
        #expect(request.httpStatusCode == 400)
    }

    @Test("the realm is escaped as a quoted-string")
    func realmEscaping() {
        let challenge = BearerChallenge(realm: "a \"b\" \\c\r\nX-Evil: 1")
        #expect(challenge.headerValue == #"Bearer realm="a \"b\" \\cX-Evil: 1""#)
    }
}
