import MeridianSecurity
import MeridianConfig
import Testing

/// `Authorization: Basic` parsing per RFC 7617.
@Suite struct BasicCredentialsTests {
    func parse(_ header: String?) throws -> (user: String, password: String)? {
        try BasicCredentials.parse(authorization: header).map { ($0.userID, $0.password) }
    }

    @Test func noHeaderIsNoCredentials() throws {
        #expect(try BasicCredentials.parse(authorization: nil) == nil)
    }

    @Test(arguments: ["Basic", "basic", "BASIC", "bAsIc"])
    func schemeIsCaseInsensitive(_ scheme: String) throws {
        let parsed = try #require(try parse("\(scheme) dXNlcjpwYXNz"))
        #expect(parsed.user == "user")
        #expect(parsed.password == "pass")
    }

    @Test(arguments: ["Bearer dXNlcjpwYXNz", "Digest username=\"u\"", "Basicx dXNlcjpwYXNz", "Negotiate", "Bas"])
    func otherSchemesAreNotBasic(_ header: String) {
        #expect(throws: BasicCredentialsError.notBasic) { try parse(header) }
    }

    @Test func userIDEndsAtTheFirstColon() throws {
        #expect(try parse("Basic dXNlcjpwYTpzcw==")! == ("user", "pa:ss"))
        #expect(try parse("Basic OnBhc3M=")! == ("", "pass"))
        #expect(try parse("Basic dXNlcjo=")! == ("user", ""))
    }

    @Test func utf8IsDecoded() throws {
        #expect(try parse("Basic w7w6cMOk")! == ("\u{fc}", "p\u{e4}"))
    }

    @Test(arguments: [
        "Basic   dXNlcjpwYXNz",  // 1*SP between scheme and token68 (RFC 7235 §2.1)
        "  Basic dXNlcjpwYXNz \t",  // surrounding OWS
    ])
    func spacesAroundTheSchemeAreAllowed(_ header: String) throws {
        #expect(try parse(header)! == ("user", "pass"))
    }

    @Test(arguments: [
        "",
        "   ",
        "Basic",
        "Basic ",
        "Basic dXNlcg==",  // "user": no colon
        "Basic dXNlcjpwYXNz=",  // padding on a full quantum
        "Basic dXNlcjpwYXN",  // padding missing
        "Basic dXNlcjpwYX==",  // wrong amount of padding
        "Basic dXNl=cjpwYXNz",  // padding in the middle
        "Basic ====",
        "Basic YR==",  // non-zero bits after the last byte
        "Basic dXN%cjpw",
        "Basic dXNl-_pw",  // base64url alphabet
        "Basic dXNl cjpwYXNz",  // two tokens
        "Basic\tdXNlcjpwYXNz",  // only SP separates scheme and credentials
        "Basic dXNlcjpwYXNz, Basic dXNlcjpwYXNz",
        "Basic /zph",  // 0xFF is not UTF-8
        "Basic dXMJcjpwdw==",  // TAB in the user-id
        "Basic dXNlcjphAGI=",  // NUL in the password
    ])
    func malformedCredentials(_ header: String) {
        #expect(throws: BasicCredentialsError.malformed) { try parse(header) }
    }

    @Test func headerIsBoundedTo4KiB() throws {
        let prefix = "Basic "
        // The largest base64 quantum count that fits with the prefix.
        let tokenLength = (BasicCredentials.maximumHeaderLength - prefix.utf8.count) / 4 * 4
        let decodedLength = tokenLength / 4 * 3
        let plain = "u:" + String(repeating: "p", count: decodedLength - 2)
        let token = base64(Array(plain.utf8))
        #expect(token.utf8.count == tokenLength)
        #expect(try parse(prefix + token)?.password.utf8.count == decodedLength - 2)
        let padded = prefix + String(repeating: " ", count: BasicCredentials.maximumHeaderLength - tokenLength - 6 + 1)
        #expect(throws: BasicCredentialsError.malformed) { try parse(padded + token) }
        #expect(throws: BasicCredentialsError.malformed) { try parse(prefix + token + "cHBw") }
    }

    @Test func descriptionRedactsThePassword() throws {
        let credentials = try #require(try BasicCredentials.parse(authorization: "Basic dXNlcjpodW50ZXIy"))
        #expect(credentials.password == "hunter2")
        #expect(!"\(credentials)".contains("hunter2"))
        #expect(!String(reflecting: credentials).contains("hunter2"))
        var dumped = ""
        dump(credentials, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        #expect("\(credentials)".contains("user"))
    }

    @Test func errorsDoNotEchoTheHeader() {
        let error = #expect(throws: BasicCredentialsError.malformed) { try parse("Basic c2VjcmV0") }
        #expect(error?.description.contains("c2VjcmV0") == false)
    }

    /// A plain base64 encoder for building test headers.
    func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var v = UInt32(bytes[i]) << 16
            if n > 1 { v |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { v |= UInt32(bytes[i + 2]) }
            for j in 0..<4 { out.append(j <= n ? alphabet[Int((v >> (18 - 6 * UInt32(j))) & 63)] : "=") }
            i += 3
        }
        return out
    }
}
