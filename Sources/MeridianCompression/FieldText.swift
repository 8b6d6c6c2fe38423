extension StringProtocol where SubSequence == Substring {
    /// The text without the optional whitespace (spaces and tabs) around it (RFC 9110 §5.6.3).
    var trimmingOWS: Substring {
        let isOWS: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isOWS($0) }), let last = lastIndex(where: { !isOWS($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}

extension StringProtocol {
    /// Whether the two are equal ignoring ASCII case, as field names and most tokens compare (RFC 9110 §5.1).
    func caseInsensitiveEquals(_ other: some StringProtocol) -> Bool {
        utf8.elementsEqual(other.utf8) { a, b in
            a == b || (a | 0x20 == b | 0x20 && (a | 0x20) >= UInt8(ascii: "a") && (a | 0x20) <= UInt8(ascii: "z"))
        }
    }
}
