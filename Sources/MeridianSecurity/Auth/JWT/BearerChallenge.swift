/// The `WWW-Authenticate` value for a request refused by bearer-token auth (RFC 6750 §3).
///
/// Without a rejection it is the bare challenge RFC 6750 §3.1 prescribes for a request with no
/// credentials (`Bearer realm="api"`: no `error`, so clients are not told more than that auth is
/// needed). With one it adds `error` and `error_description`. The realm comes from configuration
/// and is escaped as a quoted-string (RFC 9110 §5.6.4); the description is one of
/// ``JWTRejection``'s fixed phrases, which contain neither `"` nor `\`.
public struct BearerChallenge: Sendable, Hashable, CustomStringConvertible {
    public var realm: String?
    public var rejection: JWTRejection?

    public init(realm: String?, rejection: JWTRejection? = nil) {
        self.realm = realm
        self.rejection = rejection
    }

    /// The HTTP status to answer with: 401, or 400 for `invalid_request` (RFC 6750 §3.1).
    public var httpStatusCode: Int { rejection?.httpStatusCode ?? 401 }

    /// The field value, e.g. `Bearer realm="api", error="invalid_token", error_description="token expired"`.
    public var headerValue: String {
        var attributes: [String] = []
        if let realm { attributes.append("realm=\(Self.quoted(realm))") }
        if let rejection {
            attributes.append("error=\"\(rejection.errorCode)\"")
            attributes.append("error_description=\(Self.quoted(rejection.description))")
        }
        return attributes.isEmpty ? "Bearer" : "Bearer " + attributes.joined(separator: ", ")
    }

    public var description: String { headerValue }

    /// A quoted-string: `"` and `\` escaped, control characters (which no field value may
    /// carry) dropped.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"", "\\":
                result.unicodeScalars.append("\\")
                result.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                continue
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
