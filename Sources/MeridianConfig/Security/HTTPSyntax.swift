/// Byte-level HTTP grammar checks shared by the CORS and security-header code.
///
/// Everything works on UTF-8 bytes so that the per-request paths never allocate or touch Unicode
/// machinery: header names, methods and origins are ASCII by definition (RFC 9110 §5.1, §9.1;
/// RFC 6454 §6.2).
package enum HTTPSyntax {
    /// `tchar` from RFC 9110 §5.6.2: the characters of a method or a field name.
    @inline(__always)
    package static func isTokenByte(_ byte: UInt8) -> Bool {
        HeaderSyntax.isTokenByte(byte)
    }

    /// `token` from RFC 9110 §5.6.2: one or more `tchar`.
    package static func isToken<S: StringProtocol>(_ text: S) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isTokenByte)
    }

    /// OWS from RFC 9110 §5.6.3.
    @inline(__always)
    package static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    @inline(__always)
    package static func lowercased(_ byte: UInt8) -> UInt8 {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte | 0x20 : byte
    }

    @inline(__always)
    package static func isUppercase(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")
    }

    /// ASCII case-insensitive equality, as header names and origins' scheme and host compare.
    package static func equalsIgnoringCase<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
        let x = a.utf8
        let y = b.utf8
        guard x.count == y.count else { return false }
        return zip(x, y).allSatisfy { lowercased($0) == lowercased($1) }
    }

    /// The text with leading and trailing OWS removed.
    package static func trimmed(_ text: Substring) -> Substring {
        let bytes = text.utf8
        guard let first = bytes.firstIndex(where: { !isWhitespace($0) }),
            let last = bytes.lastIndex(where: { !isWhitespace($0) })
        else { return text[text.endIndex...] }
        return Substring(bytes[first...last])
    }

    /// A request-supplied value made safe to put in a log line.
    ///
    /// Rejection reasons quote what the client sent; a client controls those bytes, so control
    /// characters are escaped (no forged log lines) and the length is capped.
    package static func loggable<S: StringProtocol>(_ text: S, limit: Int = 128) -> String {
        var out = "\""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit {
                out += "…"
                break
            }
            switch scalar.value {
            case 0x20..<0x7F where scalar != "\"" && scalar != "\\":
                out.unicodeScalars.append(scalar)
            default:
                out += scalar.escaped(asASCII: true)
            }
            count += 1
        }
        return out + "\""
    }
}
