internal import MeridianConfig

/// A user-id and password from an `Authorization: Basic` header (RFC 7617).
///
/// Parsing is strict where leniency would hide mistakes or let two headers mean the same thing:
/// base64 with the standard alphabet and padding (RFC 7617 §2 uses RFC 4648 §4), UTF-8 only
/// (the charset RFC 7617 §2.1 lets servers announce), and no control characters (RFC 7617 §2:
/// "MUST NOT contain any control characters"), which also keeps NUL away from bcrypt.
/// The user-id ends at the first colon, so user-ids cannot contain one and passwords can.
/// No Unicode normalisation is applied; user-ids and passwords are compared as sent.
///
/// Not `Equatable`, so nobody compares passwords with a short-circuiting `==`; the description
/// and mirror redact the password so it cannot reach a log by accident.
public struct BasicCredentials: Sendable, CustomStringConvertible, CustomReflectable {
    /// The header value is refused above this many bytes, before any decoding.
    public static let maximumHeaderLength = 4096

    public let userID: String
    public let password: String

    public init(userID: String, password: String) {
        self.userID = userID
        self.password = password
    }

    /// Parses an `Authorization` header value.
    ///
    /// - Returns: nil when there is no header (answer with a 401 challenge).
    /// - Throws: `.notBasic` for another scheme, `.malformed` for a Basic header that is not
    ///   valid: empty, over 4 KiB, bad base64, not UTF-8, a control character or no colon.
    public static func parse(authorization: String?) throws(BasicCredentialsError) -> BasicCredentials? {
        guard let authorization else { return nil }
        guard authorization.utf8.count <= maximumHeaderLength else {
            throw .malformed("the header is over \(maximumHeaderLength) bytes")
        }
        let space = UInt8(ascii: " ")
        let tab = UInt8(ascii: "\t")
        // HTTP strips optional whitespace around a field value (RFC 9110 §5.5); do it again in
        // case the caller did not.
        var value = Array(authorization.utf8)[...]
        while let first = value.first, first == space || first == tab { value = value.dropFirst() }
        while let last = value.last, last == space || last == tab { value = value.dropLast() }
        guard !value.isEmpty else { throw .malformed("the header is empty") }

        // credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]  (RFC 9110 §11.4)
        let scheme = value.prefix { isTokenCharacter($0) }
        guard scheme.count == 5, scheme.map({ $0 | 0x20 }).elementsEqual("basic".utf8) else {
            guard !scheme.isEmpty else { throw .malformed("the header does not start with a scheme name") }
            throw .notBasic(scheme: scheme)
        }
        var rest = value.dropFirst(scheme.count)
        guard rest.first == space else {
            throw .malformed(rest.isEmpty ? "Basic without credentials" : "Basic must be followed by a space")
        }
        while rest.first == space { rest = rest.dropFirst() }
        guard let decoded = Base64.decode(rest, padding: .required), !rest.isEmpty else {
            throw .malformed("the credentials are not one padded base64 token (RFC 4648 §4)")
        }
        guard isValidUTF8(decoded) else {
            throw .malformed("the decoded credentials are not UTF-8")
        }
        guard !decoded.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw .malformed("the user-id or password contains a control character (RFC 7617 §2)")
        }
        guard let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else {
            throw .malformed("no colon between user-id and password")
        }
        return BasicCredentials(
            userID: String(decoding: decoded[..<colon], as: UTF8.self),
            password: String(decoding: decoded[(colon + 1)...], as: UTF8.self)
        )
    }

    public var description: String {
        "BasicCredentials(userID: \"\(userID)\", password: <redacted>)"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["userID": userID, "password": "<redacted>"])
    }

    /// tchar from RFC 9110 §5.6.2.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// Whole-sequence UTF-8 validation without Foundation or `String(validating:)`'s availability.
    private static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
