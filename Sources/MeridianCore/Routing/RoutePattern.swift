internal import Foundation

/// A compiled path condition of a route, and its place in the precedence order.
///
/// Precedence (most specific wins, documented in the README):
/// 1. exact paths;
/// 2. patterns, compared segment by segment from the left: a literal beats a `:param`, which beats `*`;
/// 3. prefixes, longest first;
/// 4. regular expressions, in the order they are written.
/// Among routes with the same path condition, the one with more method and header conditions wins;
/// after that, the one written first.
public enum RoutePattern: Sendable {
    case exact(String)
    case pattern([Segment], source: String)
    case prefix(String)
    case regex(Regex, source: String)

    public enum Segment: Sendable, Equatable {
        case literal(Substring)
        case parameter(String)
        case wildcard

        var rank: Int {
            switch self {
            case .literal: return 3
            case .parameter: return 2
            case .wildcard: return 1
            }
        }
    }

    /// `NSRegularExpression` is documented thread-safe for matching; it is not marked `Sendable`.
    public struct Regex: @unchecked Sendable {
        let expression: NSRegularExpression
    }

    /// A path condition as written: which kind, and its text.
    public enum Source: Sendable, Equatable {
        case exact(String)
        case pattern(String)
        case prefix(String)
        case regex(String)
    }

    public init(_ path: Source) throws {
        switch path {
        case .exact(let p): self = .exact(p)
        case .prefix(let p): self = .prefix(p)
        case .regex(let r): self = .regex(Regex(expression: try NSRegularExpression(pattern: r)), source: r)
        case .pattern(let p):
            let segments = p.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { s -> Segment in
                if s == "*" { return .wildcard }
                if s.hasPrefix(":") { return .parameter(String(s.dropFirst())) }
                return .literal(s)
            }
            self = .pattern(segments, source: p)
        }
    }

    /// The pattern as an operator wrote it: the `http.route` of every request it matches.
    public var source: String {
        switch self {
        case .exact(let p), .prefix(let p): return p
        case .pattern(_, let s), .regex(_, let s): return s
        }
    }

    /// Matches `path`, returning parameters (and regex captures) when it does.
    public func match(_ path: Substring) -> (parameters: [(name: String, value: Substring)], captures: [Substring])? {
        switch self {
        case .exact(let p):
            // Byte comparison: paths are ASCII after normalisation, and Character comparison would
            // pay for Unicode canonical equivalence on every request.
            return path.utf8.elementsEqual(p.utf8) ? ([], []) : nil
        case .prefix(let p):
            return path.utf8.starts(with: p.utf8) ? ([], []) : nil
        case .pattern(let segments, _):
            var params: [(name: String, value: Substring)] = []
            var rest = path.dropFirst()  // leading "/"
            for (i, segment) in segments.enumerated() {
                if case .wildcard = segment {
                    params.append((name: "*", value: rest))
                    return (params, [])
                }
                let end = rest.utf8.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
                let piece = rest[..<end]
                switch segment {
                case .literal(let l): if !piece.utf8.elementsEqual(l.utf8) { return nil }
                case .parameter(let name):
                    if piece.isEmpty { return nil }
                    params.append((name: name, value: piece))
                case .wildcard: break
                }
                if end == rest.endIndex {
                    return i == segments.count - 1 ? (params, []) : nil
                }
                rest = rest[rest.index(after: end)...]
            }
            return nil
        case .regex(let r, _):
            let string = String(path)
            let range = NSRange(string.startIndex..., in: string)
            guard let m = r.expression.firstMatch(in: string, range: range) else { return nil }
            var captures: [Substring] = []
            for i in 0..<m.numberOfRanges {
                if let rr = Range(m.range(at: i), in: string) { captures.append(Substring(string[rr])) } else { captures.append("") }
            }
            return ([], captures)
        }
    }

    /// Orders two patterns by precedence: true when `lhs` must be tried first.
    public static func precedes(_ lhs: RoutePattern, _ rhs: RoutePattern) -> Bool? {
        switch (lhs, rhs) {
        case (.exact, .exact): return nil
        case (.exact, _): return true
        case (_, .exact): return false
        case (.pattern(let a, _), .pattern(let b, _)):
            for (x, y) in zip(a, b) where x.rank != y.rank { return x.rank > y.rank }
            if a.count != b.count {
                // Same ranks so far: the longer pattern is more specific unless it continues with a wildcard.
                return a.count > b.count
            }
            return nil
        case (.pattern, _): return true
        case (_, .pattern): return false
        case (.prefix(let a), .prefix(let b)): return a.count == b.count ? nil : a.count > b.count
        case (.prefix, _): return true
        case (_, .prefix): return false
        case (.regex, .regex): return nil
        }
    }
}
