/// A JSON value from a JOSE header, a JWT claims set or a JWK Set (RFC 8259).
///
/// Numbers keep their literal text: a forwarded claim is passed upstream exactly as the issuer
/// wrote it (`7`, `0.25`, `1e3`), and large integers do not lose precision through `Double`.
enum JSONValue: Sendable, Equatable {
    case string(String)
    /// The number's text, already checked against the RFC 8259 §6 grammar.
    case number(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value of a number, as RFC 7519 §2 NumericDate claims (`exp`, `nbf`, `iat`) need it.
    var numberValue: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// Parses one complete JSON text, or returns `nil` if it is not valid JSON.
    ///
    /// Stricter than most parsers where it matters for tokens: a duplicate member name fails
    /// the whole text (RFC 7515 §5.2 and RFC 7519 §4 allow rejecting instead of "last one
    /// wins", and rejecting leaves no room for two parsers to disagree on which value counts),
    /// strings must be valid UTF-8 with paired surrogates, and nesting is bounded.
    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        var parser = JSONParser(bytes: bytes)
        do {
            let value = try parser.parseDocument()
            return value
        } catch {
            return nil
        }
    }
}
