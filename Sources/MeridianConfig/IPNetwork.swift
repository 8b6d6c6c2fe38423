/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `fd00::/8`, or one address): the
/// trusted-proxies list. Parsed without Foundation or a resolver, so config checks are pure.
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, with the host bits cleared.
    public let bytes: [UInt8]
    public let prefixLength: Int

    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.parseAddress(parts[0]) else { return nil }
        let bits = address.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...bits).contains(p) else { return nil }
            prefix = p
        }
        var masked = address
        for i in 0..<masked.count {
            let keep = max(0, min(8, prefix - i * 8))
            masked[i] &= keep == 8 ? 0xFF : ~(0xFF >> keep)
        }
        self.bytes = masked
        self.prefixLength = prefix
    }

    /// Whether an address (4 or 16 bytes) lies in this network. An IPv4-mapped IPv6 address
    /// (`::ffff:10.1.2.3`, as a dual-stack socket reports IPv4 peers) is checked as IPv4.
    public func contains(_ address: [UInt8]) -> Bool {
        var address = address
        if address.count == 16, bytes.count == 4, address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xFF, address[11] == 0xFF {
            address = Array(address[12...])
        }
        guard address.count == bytes.count else { return false }
        for i in 0..<bytes.count {
            let keep = max(0, min(8, prefixLength - i * 8))
            if keep == 0 { return true }
            let mask: UInt8 = keep == 8 ? 0xFF : ~(0xFF >> keep)
            if address[i] & mask != bytes[i] { return false }
        }
        return true
    }

    public var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") + "/\(prefixLength)" }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(String(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]), radix: 16)) }
        return groups.joined(separator: ":") + "/\(prefixLength)"
    }

    /// Dotted IPv4 or RFC 4291 §2.2 IPv6 text (with `::` and a trailing dotted quad).
    public static func parseAddress(_ text: Substring) -> [UInt8]? {
        if !text.contains(":") { return parseIPv4(text) }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        var rest = text
        var v4: [UInt8]?
        if let lastColon = rest.lastIndex(of: ":"), rest[rest.index(after: lastColon)...].contains(".") {
            guard let q = parseIPv4(rest[rest.index(after: lastColon)...]) else { return nil }
            v4 = q
            rest = rest[...lastColon]
            if !rest.hasSuffix("::") { rest = rest.dropLast() }
        }
        if let gap = rest.range(of: "::") {
            sawGap = true
            let before = rest[..<gap.lowerBound]
            let after = rest[gap.upperBound...]
            guard let h = groups(before), let t = groups(after) else { return nil }
            head = h
            tail = t
        } else {
            guard let h = groups(rest) else { return nil }
            head = h
        }
        let wanted = v4 == nil ? 8 : 6
        let count = head.count + tail.count
        if sawGap ? count >= wanted : count != wanted { return nil }
        let all = head + Array(repeating: 0, count: wanted - count) + tail
        var bytes = all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        if let v4 { bytes += v4 }
        return bytes
    }

    private static func groups(_ text: Substring) -> [UInt16]? {
        if text.isEmpty { return [] }
        var result: [UInt16] = []
        for g in text.split(separator: ":", omittingEmptySubsequences: false) {
            guard (1...4).contains(g.count), let v = UInt16(g, radix: 16) else { return nil }
            result.append(v)
        }
        return result
    }

    private static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var result: [UInt8] = []
        for p in parts {
            guard (1...3).contains(p.count), p.allSatisfy(\.isASCII), let v = UInt8(p) else { return nil }
            result.append(v)
        }
        return result
    }
}
