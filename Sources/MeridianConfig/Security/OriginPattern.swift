/// One entry of a CORS `origins` list: an exact origin, a wildcard over subdomains, `*` or `null`.
///
/// Exact origins compare as RFC 6454 §5 says origins compare: scheme and host case-insensitively,
/// with the scheme's default port equal to no port (`https://a.com:443` is `https://a.com`).
/// A wildcard may only be the leftmost whole label (`https://*.example.com`), and matches names
/// with at least one more label at any depth, never the bare domain: that keeps
/// `https://evil-example.com` and `https://example.com.evil.net` out, which ad-hoc regexes and
/// suffix checks have famously let in. The port of a wildcard pattern is part of it, as with an
/// exact origin. `null` (the opaque origin of sandboxed frames, `file:` pages and some redirects,
/// Fetch §3.2.2 and HTML §7.5) only matches when listed, never through `*`: allowing it lets any
/// page that sandboxes itself in.
public struct OriginPattern: Sendable, Hashable, CustomStringConvertible {
    /// Why a configured origin is not one, with the text to write instead.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public let message: String

        public var description: String { message }
    }

    /// A wildcard pattern, compiled: `scheme://*.suffix[:port]`.
    package struct Subdomains: Hashable {
        package let scheme: String
        /// The lowercase suffix including its leading dot, e.g. `.example.com`.
        package let suffix: String
        package let port: Int?

        package func matches(_ origin: SerializedOrigin) -> Bool {
            let host = origin.host.utf8
            guard origin.port == port, host.count > suffix.utf8.count,
                HTTPSyntax.equalsIgnoringCase(origin.scheme, scheme)
            else { return false }
            return zip(host.suffix(suffix.utf8.count), suffix.utf8).allSatisfy { HTTPSyntax.lowercased($0) == $1 }
        }
    }

    package enum Kind: Hashable {
        case any
        case null
        /// The lowercase `scheme://host[:port]` key, default port removed.
        case exact(String)
        case subdomains(Subdomains)
    }

    package let kind: Kind

    /// Whether this is `*`, which matches every well-formed origin except `null`.
    public var isAny: Bool { kind == .any }

    /// The pattern in canonical form (lowercase, default port removed).
    public var description: String {
        switch kind {
        case .any: return "*"
        case .null: return "null"
        case .exact(let key): return key
        case .subdomains(let s): return SerializedOrigin.key(scheme: s.scheme, host: "*" + s.suffix, port: s.port)
        }
    }

    /// Parses a configured origin; surrounding whitespace is ignored.
    public init(_ text: String) throws(ParseError) {
        let trimmed = Self.trimmed(text)
        let quoted = String(trimmed).debugDescription
        if trimmed.isEmpty {
            throw ParseError(
                message: "an origin is empty; write a full origin such as \"https://app.example.com\", "
                    + "\"*\" for any origin, or \"null\""
            )
        }
        if trimmed == "*" {
            self.kind = .any
            return
        }
        if HTTPSyntax.equalsIgnoringCase(trimmed, "null") {
            self.kind = .null
            return
        }
        if trimmed.utf8.contains(where: { $0 >= 0x80 }) {
            throw ParseError(
                message: "\(quoted) contains non-ASCII characters; browsers send internationalised host names "
                    + "in punycode, so write that form, e.g. \"https://xn--bcher-kva.example\" for bücher.example"
            )
        }
        guard let separator = trimmed.firstRange(of: "://") else {
            let bare = trimmed.drop { $0 == "/" }
            let scheme = bare.hasPrefix("localhost") || bare.hasPrefix("127.") ? "http" : "https"
            throw ParseError(
                message: "\(quoted) has no scheme; an origin is scheme://host[:port], "
                    + "e.g. \(("\(scheme)://" + bare).debugDescription)"
            )
        }
        let scheme = trimmed[..<separator.lowerBound]
        let rest = trimmed[separator.upperBound...]
        if scheme.contains("*") {
            throw Self.misplacedWildcard(quoted)
        }
        guard SerializedOrigin.isScheme(scheme) else {
            throw ParseError(
                message: "\(quoted) has the invalid scheme \(String(scheme).debugDescription) (RFC 3986 §3.1: a "
                    + "letter, then letters, digits, '+', '-' or '.'); write e.g. \"https://app.example.com\""
            )
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let userinfo = authority.lastIndex(of: "@")
        if let userinfo {
            authority = authority[authority.index(after: userinfo)...]
        }
        let suggestion = (String(scheme) + "://" + authority).debugDescription
        if authorityEnd != rest.endIndex {
            let part: String
            switch rest[authorityEnd] {
            case "/": part = "a path (\(String(rest[authorityEnd...]).debugDescription))"
            case "?": part = "a query"
            default: part = "a fragment"
            }
            throw ParseError(
                message: "\(quoted) has \(part); an origin is only scheme://host[:port] and browsers never send "
                    + "more, so it would match nothing — write \(suggestion)"
            )
        }
        if userinfo != nil {
            throw ParseError(
                message: "\(quoted) has user information before '@'; origins never include it — write \(suggestion)"
            )
        }
        if authority.contains("*") {
            self.kind = .subdomains(try Self.subdomains(scheme: scheme, authority: authority, quoted: quoted))
            return
        }
        switch SerializedOrigin.parseAuthority(authority, scheme: scheme) {
        case .success(let parts):
            self.kind = .exact(SerializedOrigin.key(scheme: scheme, host: parts.host, port: parts.port))
        case .failure(let failure):
            throw Self.authorityError(failure, quoted: quoted)
        }
    }

    /// Whether a request's `Origin` header value is allowed by this pattern.
    public func matches(_ origin: String) -> Bool {
        switch kind {
        case .null:
            return origin == "null"
        case .any:
            return origin != "null" && (try? SerializedOrigin.parse(origin[...]).get()) != nil
        case .exact(let key):
            guard case .success(let parsed) = SerializedOrigin.parse(origin[...]) else { return false }
            return parsed.key(original: origin) == key
        case .subdomains(let pattern):
            guard case .success(let parsed) = SerializedOrigin.parse(origin[...]) else { return false }
            return pattern.matches(parsed)
        }
    }

    private static func subdomains(
        scheme: Substring,
        authority: Substring,
        quoted: String
    ) throws(ParseError) -> Subdomains {
        guard authority.hasPrefix("*."), !authority.dropFirst().contains("*") else {
            throw misplacedWildcard(quoted)
        }
        let rest = authority.dropFirst(2)
        let parts: (host: Substring, port: Int?, isCanonical: Bool)
        switch SerializedOrigin.parseAuthority(rest, scheme: scheme) {
        case .success(let parsed): parts = parsed
        case .failure(let failure): throw authorityError(failure, quoted: quoted)
        }
        guard !parts.host.hasPrefix("[") else { throw misplacedWildcard(quoted) }
        guard parts.host.contains(".") else {
            throw ParseError(
                message: "\(quoted) would allow every site under .\(parts.host); name your own domain, "
                    + "e.g. \"\(scheme)://*.example.com\""
            )
        }
        let lower = SerializedOrigin.key(scheme: scheme, host: "." + parts.host, port: nil)
        let schemeEnd = lower.firstRange(of: "://")!
        return Subdomains(
            scheme: String(lower[..<schemeEnd.lowerBound]),
            suffix: String(lower[schemeEnd.upperBound...]),
            port: parts.port
        )
    }

    private static func misplacedWildcard(_ quoted: String) -> ParseError {
        ParseError(
            message: "\(quoted) uses '*' where it is not supported; a wildcard may only stand for the leftmost "
                + "whole label of the host, as in \"https://*.example.com\" (which also covers deeper "
                + "subdomains), and the scheme and port are written out; use \"*\" alone for any origin"
        )
    }

    private static func authorityError(_ failure: SerializedOrigin.Failure, quoted: String) -> ParseError {
        switch failure {
        case .emptyHost:
            return ParseError(message: "\(quoted) has no host; write e.g. \"https://app.example.com\"")
        case .badPort:
            return ParseError(
                message: "\(quoted) has an invalid port; write a number from 1 to 65535 after the colon, "
                    + "or leave it out for the scheme's default"
            )
        case .badHost, .missingScheme, .badScheme:
            return ParseError(
                message: "\(quoted) has an invalid host; a host is letters, digits, '-' and '_' in non-empty "
                    + "labels separated by single dots (no trailing dot), or an IPv6 address in brackets "
                    + "such as \"http://[::1]:8080\""
            )
        }
    }

    private static func trimmed(_ text: String) -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) })
        else { return text[text.endIndex...] }
        return text[first...last]
    }
}
