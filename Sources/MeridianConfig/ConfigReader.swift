internal import Yams

/// Walks a composed YAML node tree, collecting every problem with its line and column
/// instead of stopping at the first one, so `meridian validate` can list them all.
final class ConfigReader {
    /// Rate-limit policies seen so far, by name: routes may share a policy (one bucket) only with the same quota.
    var rateLimitPolicies: [String: Configuration.RateLimit] = [:]
    /// The top-level `compression:`, the base a route's own section starts from.
    var compressionDefault = Configuration.Compression()

    let source: String
    private(set) var diagnostics: [ConfigDiagnostic] = []

    init(source: String) {
        self.source = source
    }

    func error(_ node: Node?, _ path: String, _ message: String) {
        let mark = node?.mark
        diagnostics.append(
            ConfigDiagnostic(
                source: source,
                line: mark?.line ?? 0,
                column: mark?.column ?? 0,
                path: path,
                message: message
            )
        )
    }

    /// The pairs of a mapping, with unknown keys reported against `allowed`.
    func mapping(_ node: Node, _ path: String, allowed: [String]) -> [String: Node]? {
        guard case .mapping(let map) = node else {
            if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.tag.description.hasSuffix("null") {
                return [:]
            }
            error(node, path, "expected a mapping of keys (\(allowed.joined(separator: ", ")))")
            return nil
        }
        var result: [String: Node] = [:]
        for (keyNode, value) in map {
            guard let key = keyNode.string else {
                error(keyNode, path, "keys must be strings")
                continue
            }
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if !allowed.contains(key) {
                let hint = Self.closest(to: key, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                error(keyNode, keyPath, "unknown key\(hint); expected one of: \(allowed.joined(separator: ", "))")
                continue
            }
            if result[key] != nil {
                error(keyNode, keyPath, "key given twice; keep one")
                continue
            }
            result[key] = value
        }
        return result
    }

    func sequence(_ node: Node, _ path: String) -> [Node]? {
        switch node {
        case .sequence(let seq): return Array(seq)
        case .scalar(let scalar) where scalar.string.isEmpty: return []
        default:
            error(node, path, "expected a list")
            return nil
        }
    }

    /// `~`, `null` or an empty value: the key is present but unset.
    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return scalar.tag.description.hasSuffix("null") || (scalar.style == .plain && ["~", "null", "Null", "NULL", ""].contains(scalar.string))
    }

    /// A string, or nil without complaint when the value is null.
    func optionalString(_ node: Node, _ path: String) -> String?? {
        isNull(node) ? .some(nil) : string(node, path).map { .some($0) }
    }

    func string(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            error(node, path, "expected a string")
            return nil
        }
        return scalar.string
    }

    /// A single string or a list of strings.
    func strings(_ node: Node, _ path: String) -> [String]? {
        if case .scalar = node { return string(node, path).map { [$0] } }
        guard let items = sequence(node, path) else { return nil }
        var result: [String] = []
        for (i, item) in items.enumerated() {
            if let s = string(item, "\(path)[\(i)]") { result.append(s) }
        }
        return result
    }

    func bool(_ node: Node, _ path: String) -> Bool? {
        guard let text = string(node, path) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error(node, path, "'\(text)' is not a boolean; expected true or false")
            return nil
        }
    }

    func int(_ node: Node, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, path) else { return nil }
        guard let value = Int(text) else {
            error(node, path, "'\(text)' is not a whole number; expected \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        guard range.contains(value) else {
            error(node, path, "\(value) is out of range; expected \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return value
    }

    func size(_ node: Node, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, path) else { return nil }
        guard let value = ConfigUnits.parseSize(text) else {
            error(node, path, "'\(text)' is not a size; expected bytes like 512, 16k, 10MiB")
            return nil
        }
        guard range.contains(value) else {
            error(node, path, "\(text) is out of range; expected \(range.lowerBound)...\(range.upperBound) bytes")
            return nil
        }
        return value
    }

    func duration(_ node: Node, _ path: String, range: ClosedRange<Duration>) -> Duration? {
        guard let text = string(node, path) else { return nil }
        guard let value = ConfigUnits.parseDuration(text) else {
            error(node, path, "'\(text)' is not a duration; expected a number with ms, s, m or h, like 500ms or 10s")
            return nil
        }
        guard range.contains(value) else {
            error(node, path, "\(text) is out of range; expected \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    func address(_ node: Node, _ path: String) -> Configuration.Address? {
        guard let text = string(node, path) else { return nil }
        guard let address = Configuration.Address(parsing: text) else {
            error(node, path, "'\(text)' is not an address; expected HOST:PORT like 0.0.0.0:8080 or [::1]:8080")
            return nil
        }
        return address
    }

    func choice<T: RawRepresentable & CaseIterable>(_ node: Node, _ path: String, as: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, path) else { return nil }
        guard let value = T(rawValue: text.lowercased()) else {
            let all = T.allCases.map(\.rawValue).joined(separator: ", ")
            error(node, path, "'\(text)' is not allowed; expected one of: \(all)")
            return nil
        }
        return value
    }

    /// Header pairs from a mapping `Name: value`.
    func headerPairs(_ node: Node, _ path: String) -> [(String, String)]? {
        guard case .mapping(let map) = node else {
            error(node, path, "expected a mapping of header names to values")
            return nil
        }
        var result: [(String, String)] = []
        for (keyNode, valueNode) in map {
            guard let name = keyNode.string, let value = string(valueNode, "\(path).\(keyNode.string ?? "?")") else {
                continue
            }
            if !HeaderSyntax.isToken(name) {
                error(keyNode, "\(path).\(name)", "'\(name)' is not a valid header name (letters, digits, -)")
                continue
            }
            if !HeaderSyntax.isValidValue(value) {
                error(valueNode, "\(path).\(name)", "header value holds a control character; remove it")
                continue
            }
            result.append((name, value))
        }
        return result
    }

    /// Suggests the allowed key nearest to a typo (edit distance at most 2).
    static func closest(to key: String, in allowed: [String]) -> String? {
        var best: (String, Int)?
        for candidate in allowed {
            let d = editDistance(Array(key.utf8), Array(candidate.utf8))
            if d <= 2, d < (best?.1 ?? Int.max) { best = (candidate, d) }
        }
        return best?.0
    }

    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// RFC 9110 §5.1 / §5.5 field syntax, shared by configuration checks.
public enum HeaderSyntax {
    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    ///
    /// Inlinable: both HTTP/1.1 parsers (requests in MeridianCore, upstream responses in MeridianProxy) check every
    /// byte of every field name with it, and a call into this module per byte was ~0.5% of a proxied request.
    @inlinable
    public static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    public static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isTokenByte)
    }

    /// field-value bytes: VCHAR, obs-text, SP and HTAB; never CR, LF, NUL or other controls.
    public static func isValidValue(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }
}
