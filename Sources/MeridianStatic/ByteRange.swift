/// `Range: bytes=...` evaluation (RFC 9110 §14.1.2, §14.2). Pure.
public enum ByteRangeRequest: Equatable, Sendable {
    /// No usable Range: send the whole representation (absent, not bytes, or malformed — RFC 9110 §14.2
    /// lets a server ignore a Range it cannot parse).
    case whole
    /// The ranges to send, in request order, each clamped to the representation.
    case ranges([ClosedRange<Int>])
    /// Syntactically valid but no range overlaps the representation: 416.
    case unsatisfiable

    /// More ranges than this, or ranges overlapping to more than twice the size, are treated as
    /// abuse and answered with the whole representation.
    public static let maxRanges = 16

    public static func parse(_ header: String?, size: Int) -> ByteRangeRequest {
        guard let header else { return .whole }
        let trimmed = header.trimmingCharacters(in: " \t")
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .whole }
        let specs = trimmed.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false)
        guard !specs.isEmpty, specs.count <= maxRanges else { return .whole }
        var result: [ClosedRange<Int>] = []
        var total = 0
        for rawSpec in specs {
            let spec = rawSpec.trimmingCharacters(in: " \t")
            guard let dash = spec.firstIndex(of: "-") else { return .whole }
            let firstText = spec[..<dash]
            let lastText = spec[spec.index(after: dash)...]
            guard firstText.allSatisfy(\.isASCIIDigit), lastText.allSatisfy(\.isASCIIDigit),
                firstText.count <= 18, lastText.count <= 18
            else { return .whole }
            if firstText.isEmpty {
                // suffix-range: the last N bytes
                guard let n = Int(lastText) else { return .whole }
                if n == 0 || size == 0 { continue }
                let range = max(0, size - n)...(size - 1)
                result.append(range)
                total += range.count
            } else {
                guard let first = Int(firstText) else { return .whole }
                var last = size - 1
                if !lastText.isEmpty {
                    guard let l = Int(lastText) else { return .whole }
                    guard l >= first else { return .whole }
                    last = min(l, size - 1)
                }
                if first >= size { continue }
                result.append(first...last)
                total += last - first + 1
            }
        }
        if result.isEmpty { return .unsatisfiable }
        if total > 2 * max(size, 1) { return .whole }
        return .ranges(result)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
