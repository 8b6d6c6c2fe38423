internal import NIOCore
internal import NIOHTTP1


/// Byte-level pieces of the grammar: chunk sizes, Content-Length, versions, hosts, tokens.
extension HTTP1RequestParser {
    // MARK: - Pieces

    static func parseChunkSize(_ line: ByteBuffer) throws -> Int {
        var size = 0
        var digits = 0
        for byte in line.readableBytesView {
            let v: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = Int(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = Int(byte - UInt8(ascii: "A") + 10)
            case .semicolon, .space, .tab:
                // After the digits only BWS then `;` chunk extensions may follow (RFC 9112 §7.1.1);
                // the extensions are ignored but must hold no control bytes.
                guard digits > 0 else { throw HTTPParseError.bad("chunk size missing") }
                let rest = line.readableBytesView.dropFirst(digits)
                guard let semicolon = rest.firstIndex(where: { $0 != .space && $0 != .tab }), rest[semicolon] == .semicolon else {
                    throw HTTPParseError.bad("invalid chunk size")
                }
                if rest.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
                    throw HTTPParseError.bad("control byte in chunk extension")
                }
                return size
            default:
                throw HTTPParseError.bad("invalid chunk size")
            }
            digits += 1
            guard digits <= 15 else { throw HTTPParseError(.payloadTooLarge, "chunk size too large") }
            size = size * 16 + v
        }
        guard digits > 0 else { throw HTTPParseError.bad("chunk size missing") }
        return size
    }

    /// 1*DIGIT; values too large for the limits come back as Int.max (413), never wrapped.
    static func parseContentLength(_ bytes: Slice<UnsafeRawBufferPointer>) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var n = 0
        for b in bytes {
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
            n = (o1 || o2) ? Int.max : a
        }
        return n
    }

    static func parseVersion(_ bytes: UnsafeRawBufferPointer) throws -> HTTPVersion {
        guard bytes.count == 8, bytes.starts(with: "HTTP/".utf8), bytes[6] == UInt8(ascii: "."),
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[5]),
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[7])
        else { throw HTTPParseError.bad("malformed HTTP version") }
        let major = Int(bytes[5] - UInt8(ascii: "0"))
        let minor = Int(bytes[7] - UInt8(ascii: "0"))
        guard major == 1 else { throw HTTPParseError(.httpVersionNotSupported, "HTTP/\(major).\(minor) is not supported") }
        return HTTPVersion(major: 1, minor: minor >= 1 ? 1 : 0)
    }

    /// `http://authority/path?q` -> (authority, /path?q)
    static func splitAbsoluteForm(_ uri: String) -> (String, String)? {
        let lower = uri.lowercased()
        let rest: Substring
        if lower.hasPrefix("http://") {
            rest = uri.dropFirst(7)
        } else if lower.hasPrefix("https://") {
            rest = uri.dropFirst(8)
        } else {
            return nil
        }
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = String(rest[..<end])
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var path = String(rest[end...])
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        return (authority, path)
    }

    /// uri-host [ ":" port ] with reg-name, IPv4 or IP-literal hosts (RFC 9110 §7.2), checked on bytes.
    static func isValidHost(_ value: String) -> Bool {
        // Over the bytes in place: views of a `String` retained its storage at each step (~6 retains and releases
        // per request).
        var value = value
        return value.withUTF8 { isValidHost(bytes: $0[...]) }
    }

    static func isValidHost(_ value: UnsafeRawBufferPointer) -> Bool {
        isValidHost(bytes: value.assumingMemoryBound(to: UInt8.self)[...])
    }

    private static func isValidHost(bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        var utf8 = bytes
        if utf8.isEmpty { return true }  // Host: (empty) is allowed when the target has no authority.
        if utf8.first == UInt8(ascii: "[") {
            guard let close = utf8.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = utf8[(utf8.startIndex + 1)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ isHex($0) || $0 == .colon || $0 == UInt8(ascii: ".") }) else {
                return false
            }
            utf8 = utf8[(close + 1)...]
            if utf8.isEmpty { return true }
            guard utf8.first == .colon else { return false }
            let port = utf8.dropFirst()
            return port.count <= 5 && port.allSatisfy(isDigit)
        }
        if let colon = utf8.lastIndex(of: .colon) {
            let port = utf8[(colon + 1)...]
            guard port.count <= 5, port.allSatisfy(isDigit) else { return false }
            utf8 = utf8[..<colon]
        }
        return !utf8.isEmpty && utf8.allSatisfy { b in
            isTokenByte(b) && b != UInt8(ascii: "*") && b != UInt8(ascii: "|") && b != UInt8(ascii: "`")
                && b != UInt8(ascii: "^") && b != UInt8(ascii: "#") && b != UInt8(ascii: "%")
        }
    }

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    @inline(__always) static func isHex(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46)
    }

    @inline(__always) static func isTokenByte(_ b: UInt8) -> Bool { tokenTable[Int(b)] }

    private static let tokenTable: [Bool] = (0..<256).map { b in
        let b = UInt8(b)
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(b)
        }
    }
}

extension UInt8 {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
}

extension StringProtocol {
    func trimmingOWS() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }

    /// ASCII case-insensitive comparison with a lowercase literal, without allocating: only `A`-`Z` fold.
    ///
    /// Inlinable, and a byte loop over both strings' contiguous UTF-8 (native strings always have it): written with
    /// `zip` over the two UTF-8 views and called across modules, it was 6% of a proxied request's CPU (`perf` of
    /// bench/proxy.sh's 1 KiB case: the upstream codec's framing checks, the response head's field filter).
    @inlinable
    public func lowercasedASCIIEquals(_ lower: String) -> Bool {
        let fast = self.utf8.withContiguousStorageIfAvailable { a in
            lower.utf8.withContiguousStorageIfAvailable { b in asciiCaseInsensitiveEquals(a, lowercase: b) }
        }
        if let fast, let result = fast { return result }
        return self.utf8.count == lower.utf8.count && zip(self.utf8, lower.utf8).allSatisfy { asciiFoldedEquals($0, lower: $1) }
    }
}

/// `a` equals `lower` with ASCII letters in `a` folded to lowercase.
@inlinable
func asciiCaseInsensitiveEquals(_ a: UnsafeBufferPointer<UInt8>, lowercase lower: UnsafeBufferPointer<UInt8>) -> Bool {
    guard a.count == lower.count else { return false }
    var i = 0
    while i < a.count {
        if !asciiFoldedEquals(a[i], lower: lower[i]) { return false }
        i += 1
    }
    return true
}

/// `b` with `A`-`Z` folded to lowercase.
@inlinable @inline(__always)
public func asciiFolded(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

extension Collection where Element == UInt8 {
    /// Equal to `lower` (lower-case ASCII) ignoring the case of ASCII letters: field names as raw bytes, tokens as
    /// slices of a value's UTF-8.
    @inlinable
    public func equalsLowercase(_ lower: StaticString) -> Bool {
        guard count == lower.utf8CodeUnitCount else { return false }
        var p = lower.utf8Start
        for b in self {
            guard asciiFolded(b) == p.pointee else { return false }
            p += 1
        }
        return true
    }
}

/// `x` equals the lowercase byte `lower`, with `x` folded to lowercase when it is `A`-`Z`.
@inlinable
func asciiFoldedEquals(_ x: UInt8, lower: UInt8) -> Bool {
    x == lower || (x >= 0x41 && x <= 0x5A && x | 0x20 == lower)
}
