/// Query and percent-encoding normalisation for keys (RFC 3986 §6.2.2).
extension CacheKey {
    /// A query in key form: see `url(scheme:host:path:query:options:)`.
    static func normalizedQuery(_ query: Substring, options: KeyOptions) -> String {
        var parameters: [(name: String, value: String?)] = []
        for raw in query.split(separator: "&", omittingEmptySubsequences: true) where raw != "=" {
            let equals = raw.firstIndex(of: "=")
            let rawName = equals.map { raw[..<$0] } ?? raw
            if !options.ignoredQueryParameters.isEmpty,
                options.ignoredQueryParameters.contains(percentDecoded(rawName))
            {
                continue
            }
            let value = equals.map { normalizedPercentEncoding(raw[raw.index(after: $0)...]) }
            parameters.append((normalizedPercentEncoding(rawName), value))
        }
        if options.sortQuery {
            // Byte order, so the key does not depend on Unicode collation; equal pairs are interchangeable.
            parameters.sort { lhs, rhs in
                if lhs.name != rhs.name { return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8) }
                switch (lhs.value, rhs.value) {
                case (nil, nil), (.some, nil): return false
                case (nil, .some): return true
                case (.some(let left), .some(let right)): return left.utf8.lexicographicallyPrecedes(right.utf8)
                }
            }
        }
        var result = ""
        for (position, parameter) in parameters.enumerated() {
            if position > 0 { result += "&" }
            result += parameter.name
            if let value = parameter.value {
                result += "="
                result += value
            }
        }
        return result
    }

    /// `text` with percent-encoded unreserved characters decoded and other percent-encodings' hex digits
    /// upper-cased (RFC 3986 §6.2.2.1, §6.2.2.2); a `%` not followed by two hex digits is kept as it is.
    static func normalizedPercentEncoding(_ text: Substring) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        let bytes = Array(text.utf8)
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                let decoded = high << 4 | low
                if isUnreserved(decoded) {
                    result.append(decoded)
                } else {
                    result.append(UInt8(ascii: "%"))
                    result.append(upperHex(bytes[index + 1]))
                    result.append(upperHex(bytes[index + 2]))
                }
                index += 3
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// `text` with every valid percent-encoding decoded: how an ignored parameter name is matched.
    static func percentDecoded(_ text: Substring) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        let bytes = Array(text.utf8)
        var result: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                result.append(high << 4 | low)
                index += 3
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986 §2.3).
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func upperHex(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f") ? byte - 32 : byte
    }
}
