/// Reads the bearer token out of an `Authorization` header value (RFC 6750 §2.1).
///
/// Tells apart a request that carries no bearer credentials, which RFC 6750 §3.1 answers with
/// a bare challenge (`401`, `WWW-Authenticate: Bearer realm="…"`, no `error`), from one whose
/// header is broken, which is an `invalid_request` (`400`). Pure: no I/O, no allocation beyond
/// the returned slice of the header value.
public enum BearerToken {
    /// What an `Authorization` header holds, from the bearer scheme's point of view.
    public enum Extraction: Sendable, Hashable {
        /// A syntactically valid `b64token`; still to be verified.
        case token(Substring)
        /// No header, an empty one, or another scheme (`Basic …`): no bearer credentials at all.
        case noCredentials
        /// `Bearer` with a missing or syntactically invalid token; carries
        /// ``JWTRejection/malformedAuthorization``.
        case malformed(JWTRejection)
    }

    /// Parses `credentials = "Bearer" 1*SP b64token` (RFC 6750 §2.1).
    ///
    /// The scheme is matched case-insensitively (RFC 9110 §11.1). RFC 6750's grammar allows one
    /// or more spaces after it, so several are accepted; surrounding whitespace, which an HTTP
    /// parser may leave on a field value (RFC 9110 §5.5), is ignored.
    /// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
    public static func extract(authorization: String?) -> Extraction {
        guard let authorization else { return .noCredentials }
        let value = Self.trimmingWhitespace(authorization[...])
        if value.isEmpty { return .noCredentials }

        let scheme = value.prefix(while: { $0 != " " && $0 != "\t" })
        guard Self.isBearerScheme(scheme) else { return .noCredentials }
        let rest = value[scheme.endIndex...]
        // `Bearer` alone, or followed by a tab: the grammar requires SP.
        guard rest.first == " " else { return .malformed(.malformedAuthorization) }
        let token = rest.drop(while: { $0 == " " })
        guard Self.isB64Token(token) else { return .malformed(.malformedAuthorization) }
        return .token(token)
    }

    private static func isBearerScheme(_ scheme: Substring) -> Bool {
        scheme.utf8.count == 6
            && scheme.utf8.elementsEqual("bearer".utf8, by: { actual, expected in actual | 0x20 == expected })
    }

    private static func isB64Token(_ token: Substring) -> Bool {
        var sawPadding = false
        var tokenCharacters = 0
        for byte in token.utf8 {
            if byte == UInt8(ascii: "=") {
                sawPadding = true
                continue
            }
            guard !sawPadding else { return false }  // "=" only at the end
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                tokenCharacters += 1
            default:
                return false
            }
        }
        return tokenCharacters > 0
    }

    private static func trimmingWhitespace(_ text: Substring) -> Substring {
        var text = text
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
