public import NIOHTTP1
public import MeridianCore

/// The directives of a `Cache-Control` field (RFC 9111 §5.2), read from all of its lines.
///
/// One type serves requests and responses: the parser does not know which it reads, and a directive that makes no
/// sense in the message it came in is simply never consulted. Parsing never fails. Directive names are
/// case-insensitive, arguments may be tokens or quoted strings (RFC 9111 §5.2 asks recipients to accept both forms),
/// and unknown directives are ignored (§5.2.3).
public struct CacheControl: Sendable, Equatable {
    /// The argument of a `max-stale` request directive (RFC 9111 §5.2.1.2).
    public enum MaxStale: Sendable, Hashable {
        /// No argument: a stale response of any staleness is acceptable.
        case any
        /// At most this many seconds stale.
        case seconds(Int)
    }

    /// `max-age` (§5.2.1.1, §5.2.2.1). With conflicting duplicates the smallest value, and `hasInvalidFreshness`.
    public var maxAge: Int?
    /// `s-maxage` (§5.2.2.10), for shared caches in place of `max-age`.
    public var sharedMaxAge: Int?
    /// `no-store` (§5.2.1.5, §5.2.2.5).
    public var noStore = false
    /// `no-cache` without field names (§5.2.1.4, §5.2.2.4): every reuse needs validation.
    public var noCache = false
    /// The field names of a qualified `no-cache="a, b"` (§5.2.2.4), lower-cased.
    public var noCacheFields: [String] = []
    /// `private` without field names (§5.2.2.7): a shared cache must not store the response.
    public var isPrivate = false
    /// The field names of a qualified `private="a, b"` (§5.2.2.7), lower-cased.
    public var privateFields: [String] = []
    /// `public` (§5.2.2.9).
    public var isPublic = false
    /// `must-revalidate` (§5.2.2.2).
    public var mustRevalidate = false
    /// `proxy-revalidate` (§5.2.2.8).
    public var proxyRevalidate = false
    /// `must-understand` (§5.2.2.3).
    public var mustUnderstand = false
    /// `no-transform` (§5.2.1.6, §5.2.2.6).
    public var noTransform = false
    /// `immutable` (RFC 8246).
    public var immutable = false
    /// `stale-while-revalidate` (RFC 5861 §3).
    public var staleWhileRevalidate: Int?
    /// `stale-if-error` (RFC 5861 §4), in a request or a response.
    public var staleIfError: Int?
    /// `only-if-cached` (§5.2.1.7), request only.
    public var onlyIfCached = false
    /// `max-stale` (§5.2.1.2), request only.
    public var maxStale: MaxStale?
    /// `min-fresh` (§5.2.1.3), request only.
    public var minFresh: Int?
    /// Whether `max-age` or `s-maxage` was invalid (no value, not delta-seconds) or given twice with different
    /// values. RFC 9111 §4.2.1 lets a cache consider such a response stale, and this one does.
    public var hasInvalidFreshness = false

    /// No directives.
    public init() {}

    /// Parses every `Cache-Control` line of `headers`.
    public init(_ headers: some HeaderFieldLookup) {
        self.init(headers["cache-control"])
    }

    /// Parses the given field lines as one list (RFC 9110 §5.3: several lines mean their values joined by commas).
    public init(_ fieldValues: [String]) {
        for value in fieldValues {
            var scanner = DirectiveScanner(Array(value.utf8))
            while let directive = scanner.next() {
                if directive.isWellFormed {
                    apply(name: directive.name, argument: directive.argument)
                } else if directive.name == "max-age" || directive.name == "s-maxage" {
                    hasInvalidFreshness = true  // `max-age=5 6`: freshness information that cannot be trusted
                }
            }
        }
    }

    /// Whether the response must not be served stale by a shared cache without validating it first: the
    /// `must-revalidate` (§5.2.2.2), `proxy-revalidate` (§5.2.2.8) and `s-maxage` (§5.2.2.10, which implies
    /// proxy-revalidate) directives, and unqualified `no-cache` (§4.2.4).
    public var forbidsStale: Bool {
        mustRevalidate || proxyRevalidate || sharedMaxAge != nil || noCache
    }

    private mutating func apply(name: String, argument: String?) {
        switch name {
        case "max-age": maxAge = merged(freshness: maxAge, argument)
        case "s-maxage": sharedMaxAge = merged(freshness: sharedMaxAge, argument)
        case "no-store": noStore = true
        case "no-cache":
            if let argument { noCacheFields.appendFieldNames(argument) } else { noCache = true }
        case "private":
            if let argument { privateFields.appendFieldNames(argument) } else { isPrivate = true }
        case "public": isPublic = true
        case "must-revalidate": mustRevalidate = true
        case "proxy-revalidate": proxyRevalidate = true
        case "must-understand": mustUnderstand = true
        case "no-transform": noTransform = true
        case "immutable": immutable = true
        case "only-if-cached": onlyIfCached = true
        // Outside max-age and s-maxage a repeated directive keeps its first value (RFC 9111 §4.2.1 allows either).
        case "stale-while-revalidate":
            if staleWhileRevalidate == nil { staleWhileRevalidate = argument.flatMap(CacheFieldSyntax.deltaSeconds) }
        case "stale-if-error":
            if staleIfError == nil { staleIfError = argument.flatMap(CacheFieldSyntax.deltaSeconds) }
        case "min-fresh":
            if minFresh == nil { minFresh = argument.flatMap(CacheFieldSyntax.deltaSeconds) }
        case "max-stale":
            if maxStale == nil {
                if let argument {
                    maxStale = CacheFieldSyntax.deltaSeconds(argument).map(MaxStale.seconds)
                } else {
                    maxStale = .any
                }
            }
        default:
            break
        }
    }

    /// A `max-age` or `s-maxage` value merged with the one seen before; an invalid one or a conflicting duplicate
    /// marks the freshness information invalid (RFC 9111 §4.2.1) and the most restrictive (smallest) value is kept.
    private mutating func merged(freshness existing: Int?, _ argument: String?) -> Int? {
        guard let argument, let seconds = CacheFieldSyntax.deltaSeconds(argument) else {
            hasInvalidFreshness = true
            return existing
        }
        guard let existing else { return seconds }
        if existing != seconds { hasInvalidFreshness = true }
        return min(existing, seconds)
    }
}

extension [String] {
    /// Appends the lower-cased field names of a qualified `no-cache` or `private` argument, without repeats.
    fileprivate mutating func appendFieldNames(_ argument: String) {
        for member in CacheFieldSyntax.listMembers([argument]) {
            let name = CacheFieldSyntax.lowercasedASCII(member)
            if !contains(name) { append(name) }
        }
    }
}

/// Walks `directive [ "=" ( token / quoted-string ) ]` list members (RFC 9111 §5.2) over the bytes of one line.
///
/// Anything unexpected (a missing name, stray characters after an argument) skips to the next comma outside a
/// quoted string, so a comma inside `no-cache="a, b"` never splits a directive and garbage never stops the walk.
private struct DirectiveScanner {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    struct Directive {
        /// Lower-cased.
        var name: String
        /// Unquoted; nil when the directive has no `=`.
        var argument: String?
        /// False when something other than a comma or the end followed the directive.
        var isWellFormed: Bool
    }

    /// The next directive, or nil at the end of the line.
    mutating func next() -> Directive? {
        while index < bytes.count {
            skip { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            let nameStart = index
            skip(while: CacheFieldSyntax.isTokenByte)
            let nameBytes = bytes[nameStart..<index]
            skipWhitespace()
            var argument: String?
            if index < bytes.count, bytes[index] == UInt8(ascii: "=") {
                index += 1
                skipWhitespace()
                argument = readArgument()
                skipWhitespace()
            }
            let wellFormed = index >= bytes.count || bytes[index] == UInt8(ascii: ",")
            skipToNextMember()
            guard !nameBytes.isEmpty else { continue }
            let name = CacheFieldSyntax.lowercasedASCII(String(decoding: nameBytes, as: UTF8.self))
            return Directive(name: name, argument: argument, isWellFormed: wellFormed)
        }
        return nil
    }

    /// A token, or a quoted-string with its quoted-pairs unescaped (RFC 9110 §5.6.4).
    private mutating func readArgument() -> String {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            let start = index
            skip(while: CacheFieldSyntax.isTokenByte)
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        index += 1
        var value: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\"), index < bytes.count {
                value.append(bytes[index])
                index += 1
            } else {
                value.append(byte)
            }
        }
        return String(decoding: value, as: UTF8.self)
    }

    private mutating func skip(while predicate: (UInt8) -> Bool) {
        while index < bytes.count, predicate(bytes[index]) { index += 1 }
    }

    private mutating func skipWhitespace() {
        skip { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
    }

    /// Moves past the next comma that is not inside a quoted string.
    private mutating func skipToNextMember() {
        var quoted = false
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if quoted {
                if byte == UInt8(ascii: "\\") {
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    quoted = false
                }
            } else if byte == UInt8(ascii: "\"") {
                quoted = true
            } else if byte == UInt8(ascii: ",") {
                return
            }
        }
    }
}
