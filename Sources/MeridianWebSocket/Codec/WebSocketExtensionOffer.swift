/// One element of a Sec-WebSocket-Extensions field: an extension name and its parameters (RFC 6455 §9.1).
///
/// The grammar is `extension *( ";" token [ "=" ( token / quoted-string ) ] )`, elements separated by commas; a
/// quoted value "MUST conform to the token ABNF" once unescaped (§9.1), so `"10"` and `10` mean the same. A malformed
/// element is left out rather than failing the field: RFC 7692 §5 has a server decline an offer it cannot accept and
/// look at the next one, and a garbled offer is one it cannot accept.
struct WebSocketExtensionOffer: Sendable, Equatable {
    struct Parameter: Sendable, Equatable {
        /// Lowercased: tokens compare case-insensitively.
        var name: String
        /// nil for a parameter with no value; unquoted and unescaped otherwise.
        var value: String?
    }

    /// Lowercased: tokens compare case-insensitively.
    var name: String
    var parameters: [Parameter]

    /// The well-formed elements of one field value, in order.
    static func parse(_ fieldValue: String) -> [WebSocketExtensionOffer] {
        splitElements(Array(fieldValue.utf8)).compactMap { parseElement($0) }
    }

    /// Splits at the commas outside quoted strings; an unterminated quote runs to the end of the field.
    private static func splitElements(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var elements: [ArraySlice<UInt8>] = []
        var start = 0
        var quoted = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if quoted {
                if byte == UInt8(ascii: "\\") {
                    index += 1  // the escaped byte cannot end the string
                } else if byte == UInt8(ascii: "\"") {
                    quoted = false
                }
            } else if byte == UInt8(ascii: "\"") {
                quoted = true
            } else if byte == UInt8(ascii: ",") {
                elements.append(bytes[start..<index])
                start = index + 1
            }
            index += 1
        }
        elements.append(bytes[start..<Swift.min(index, bytes.count)])
        return elements
    }

    /// One element, nil when it is empty (allowed by the list syntax, RFC 9110 §5.6.1) or malformed.
    private static func parseElement(_ element: ArraySlice<UInt8>) -> WebSocketExtensionOffer? {
        var scanner = Scanner(bytes: element)
        scanner.skipWhitespace()
        guard !scanner.isAtEnd, let name = scanner.token() else { return nil }
        var parameters: [Parameter] = []
        scanner.skipWhitespace()
        while scanner.take(UInt8(ascii: ";")) {
            scanner.skipWhitespace()
            guard let parameterName = scanner.token() else { return nil }
            scanner.skipWhitespace()
            var value: String?
            if scanner.take(UInt8(ascii: "=")) {
                scanner.skipWhitespace()
                guard let parsed = scanner.token(lowercased: false) ?? scanner.quotedToken() else { return nil }
                value = parsed
                scanner.skipWhitespace()
            }
            parameters.append(Parameter(name: parameterName, value: value))
        }
        guard scanner.isAtEnd else { return nil }
        return WebSocketExtensionOffer(name: name, parameters: parameters)
    }

    /// Reads tokens and quoted strings from the bytes of one element.
    private struct Scanner {
        var bytes: ArraySlice<UInt8>
        var index: Int

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            self.index = bytes.startIndex
        }

        var isAtEnd: Bool { index == bytes.endIndex }

        mutating func skipWhitespace() {
            while index < bytes.endIndex && (bytes[index] == 0x20 || bytes[index] == 0x09) {
                index += 1
            }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.endIndex && bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// A token (RFC 9110 §5.6.2), nil when there is none here.
        mutating func token(lowercased: Bool = true) -> String? {
            let start = index
            while index < bytes.endIndex && Self.isTokenCharacter(bytes[index]) {
                index += 1
            }
            guard index > start else { return nil }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            return lowercased ? text.lowercased() : text
        }

        /// A quoted string whose unescaped content is a token (RFC 6455 §9.1), nil otherwise.
        mutating func quotedToken() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            var content: [UInt8] = []
            while index < bytes.endIndex {
                var byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") {
                    guard !content.isEmpty, content.allSatisfy(Self.isTokenCharacter) else { return nil }
                    return String(decoding: content, as: UTF8.self)
                }
                if byte == UInt8(ascii: "\\") {
                    guard index < bytes.endIndex else { return nil }
                    byte = bytes[index]
                    index += 1
                }
                content.append(byte)
            }
            return nil  // unterminated
        }

        private static let tokenPunctuation = Array("!#$%&'*+-.^_`|~".utf8)

        /// tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT /
        /// ALPHA (RFC 9110 §5.6.2).
        static func isTokenCharacter(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "A")...UInt8(ascii: "Z"):
                return true
            default:
                return tokenPunctuation.contains(byte)
            }
        }
    }
}
