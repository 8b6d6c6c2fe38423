/// An origin as serialized on the wire, `scheme "://" host [ ":" port ]`, split into its parts.
///
/// RFC 6454 §6.2 and the Fetch standard's "serialization of an origin" define this exact shape;
/// anything else in an `Origin` header (a path, user info, several origins) did not come from a
/// browser and never matches. Parsing works on substrings of the header value and allocates
/// nothing, because it runs for every cross-origin request.
package struct SerializedOrigin {
    package enum Failure: Error {
        case missingScheme
        case badScheme
        case emptyHost
        case badHost
        case badPort
    }

    package let scheme: Substring
    package let host: Substring
    /// The port to compare, or `nil` when absent or the scheme's default (RFC 6454 §4: an origin
    /// with the default port is the same origin as one without).
    package let port: Int?
    /// Whether the text is already lowercase with no default or zero-padded port, so that it is
    /// its own comparison key. Browsers always send this form.
    package let isCanonical: Bool

    /// The default port of the schemes whose origins browsers send (RFC 6454 §4 step 5).
    package static func defaultPort<S: StringProtocol>(forScheme scheme: S) -> Int? {
        if HTTPSyntax.equalsIgnoringCase(scheme, "https") || HTTPSyntax.equalsIgnoringCase(scheme, "wss") {
            return 443
        }
        if HTTPSyntax.equalsIgnoringCase(scheme, "http") || HTTPSyntax.equalsIgnoringCase(scheme, "ws") {
            return 80
        }
        return nil
    }

    package static func parse(_ text: Substring) -> Result<SerializedOrigin, Failure> {
        let bytes = text.utf8
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return .failure(.missingScheme) }
        let afterColon = bytes[bytes.index(after: colon)...]
        guard afterColon.starts(with: "//".utf8) else { return .failure(.missingScheme) }
        let scheme = Substring(bytes[..<colon])
        guard isScheme(scheme) else { return .failure(.badScheme) }
        let authority = Substring(afterColon.dropFirst(2))
        switch parseAuthority(authority, scheme: scheme) {
        case .success(let parts):
            let lowercaseScheme = !scheme.utf8.contains(where: HTTPSyntax.isUppercase)
            return .success(
                SerializedOrigin(
                    scheme: scheme,
                    host: parts.host,
                    port: parts.port,
                    isCanonical: parts.isCanonical && lowercaseScheme
                )
            )
        case .failure(let failure):
            return .failure(failure)
        }
    }

    /// `scheme` from RFC 3986 §3.1: a letter, then letters, digits, `+`, `-` or `.`.
    package static func isScheme(_ text: Substring) -> Bool {
        guard let first = text.utf8.first, isLetter(first) else { return false }
        return text.utf8.allSatisfy {
            isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-")
                || $0 == UInt8(ascii: ".")
        }
    }

    /// Splits `host [ ":" port ]`, checking the host is a dotted name of non-empty labels or a
    /// bracketed IPv6 literal, and the port is 1–65535.
    package static func parseAuthority(
        _ authority: Substring,
        scheme: Substring
    ) -> Result<(host: Substring, port: Int?, isCanonical: Bool), Failure> {
        let bytes = authority.utf8
        var canonical = true
        let hostEnd: Substring.UTF8View.Index
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return .failure(.badHost) }
            let inside = bytes[bytes.index(after: bytes.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy(isIPv6Byte) else { return .failure(.badHost) }
            hostEnd = bytes.index(after: close)
            guard hostEnd == bytes.endIndex || bytes[hostEnd] == UInt8(ascii: ":") else { return .failure(.badHost) }
        } else {
            hostEnd = bytes.firstIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex
            guard hostEnd != bytes.startIndex else { return .failure(.emptyHost) }
            var previous = UInt8(ascii: ".")
            for byte in bytes[..<hostEnd] {
                if byte == UInt8(ascii: ".") {
                    guard previous != UInt8(ascii: ".") else { return .failure(.badHost) }
                } else if !isHostByte(byte) {
                    return .failure(.badHost)
                }
                previous = byte
            }
            guard previous != UInt8(ascii: ".") else { return .failure(.badHost) }
        }
        let host = Substring(bytes[..<hostEnd])
        if host.utf8.contains(where: HTTPSyntax.isUppercase) {
            canonical = false
        }
        guard hostEnd != bytes.endIndex else { return .success((host, nil, canonical)) }

        let digits = bytes[bytes.index(after: hostEnd)...]
        guard !digits.isEmpty else { return .failure(.badPort) }
        var port = 0
        for byte in digits {
            guard isDigit(byte) else { return .failure(.badPort) }
            port = port * 10 + Int(byte - UInt8(ascii: "0"))
            guard port <= 65_535 else { return .failure(.badPort) }
        }
        guard port > 0 else { return .failure(.badPort) }
        if digits.first == UInt8(ascii: "0") {
            canonical = false
        }
        if port == defaultPort(forScheme: scheme) {
            return .success((host, nil, false))
        }
        return .success((host, port, canonical))
    }

    /// The comparison key: lowercase `scheme://host[:port]` without a default port.
    ///
    /// `original` must be the text this was parsed from; when it is already canonical it is
    /// returned as is, so the common browser case allocates nothing.
    package func key(original: String) -> String {
        isCanonical ? original : Self.key(scheme: scheme, host: host, port: port)
    }

    package static func key<S: StringProtocol, H: StringProtocol>(scheme: S, host: H, port: Int?) -> String {
        var out = String(decoding: scheme.utf8.map(HTTPSyntax.lowercased), as: UTF8.self)
        out += "://"
        out += String(decoding: host.utf8.map(HTTPSyntax.lowercased), as: UTF8.self)
        if let port {
            out += ":\(port)"
        }
        return out
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || HTTPSyntax.isUppercase(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// Letters, digits, `-` and `_`: the URL standard's host parser lets `_` through and browsers
    /// send it, so refusing it would reject real origins.
    private static func isHostByte(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }

    private static func isIPv6Byte(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F")) || byte == UInt8(ascii: ":")
            || byte == UInt8(ascii: ".")
    }
}
