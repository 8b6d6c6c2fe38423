/// Normalises a request path before routing (RFC 3986 §6.2.2): decodes percent-encoded unreserved
/// characters, upper-cases the hex of the rest, removes dot segments (§5.2.4) and merges repeated
/// slashes (as nginx's `merge_slashes`), so `/%61dmin`, `/x/../admin` and `//admin` all route like
/// `/admin` and routing sees the same path the file lookup does. A path that climbs above `/` is
/// refused.
public enum PathNormalizer {
    public enum Failure: Error, Equatable, Sendable {
        case notAbsolute
        case badPercentEncoding
        case escapesRoot
    }

    public static func normalize(_ path: Substring) -> Result<Substring, Failure> {
        guard path.first == "/" else { return .failure(.notAbsolute) }
        // Fast path: nothing to decode and no dot segments.
        var needsWork = false
        var previous: UInt8 = 0
        for b in path.utf8 {
            if b == UInt8(ascii: "%") || (previous == UInt8(ascii: "/") && (b == UInt8(ascii: ".") || b == UInt8(ascii: "/"))) {
                needsWork = true
                break
            }
            previous = b
        }
        if !needsWork { return .success(path) }

        var decoded: [UInt8] = []
        decoded.reserveCapacity(path.utf8.count)
        var it = Array(path.utf8)[...]
        while let b = it.popFirst() {
            guard b == UInt8(ascii: "%") else {
                decoded.append(b)
                continue
            }
            guard it.count >= 2, let hi = hexValue(it[it.startIndex]), let lo = hexValue(it[it.startIndex + 1]) else {
                return .failure(.badPercentEncoding)
            }
            it = it.dropFirst(2)
            let value = hi << 4 | lo
            if isUnreserved(value) {
                decoded.append(value)
            } else {
                decoded.append(UInt8(ascii: "%"))
                decoded.append(hexDigit(hi))
                decoded.append(hexDigit(lo))
            }
        }
        // Dot-segment removal on whole segments.
        var output: [ArraySlice<UInt8>] = []
        let segments = decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        for (i, segment) in segments.enumerated() {
            let last = i == segments.count - 1
            if segment.isEmpty {
                if last { output.append([]) }  // keep a trailing slash, drop repeated ones
            } else if segment.elementsEqual(".".utf8) {
                if last { output.append([]) }
            } else if segment.elementsEqual("..".utf8) {
                guard !output.isEmpty else { return .failure(.escapesRoot) }
                output.removeLast()
                if last { output.append([]) }
            } else {
                output.append(segment)
            }
        }
        var result = "/"
        result.reserveCapacity(decoded.count)
        result += output.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
        return .success(Substring(result))
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? UInt8(ascii: "0") + v : UInt8(ascii: "A") + v - 10 }

    static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
