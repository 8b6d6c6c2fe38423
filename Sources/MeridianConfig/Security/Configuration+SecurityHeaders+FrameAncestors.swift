extension Configuration.SecurityHeaders {
    /// The policy to send: `contentSecurityPolicy` with the `frame-ancestors` directive appended.
    ///
    /// A policy that already has the directive is left alone (validation made sure it says the
    /// same): CSP3 §2.2.1 ignores every repeat of a directive, so appending a second one would
    /// silently do nothing.
    package static func contentSecurityPolicy(_ policy: String?, frameAncestors: String?) -> String? {
        guard let frameAncestors else { return policy }
        let directive = "frame-ancestors " + frameAncestors
        guard let policy else { return directive }
        if frameAncestorsDirective(in: policy) != nil { return policy }
        let body = Substring(policy).trimmingEdges { $0.isWhitespace || $0 == ";" }
        return body.isEmpty ? directive : body + "; " + directive
    }

    /// The source list of the policy's first `frame-ancestors` directive, if it has one.
    package static func frameAncestorsDirective(in policy: String) -> Substring? {
        for directive in policy.split(separator: ";") {
            let trimmed = directive.trimmingEdges(while: \.isWhitespace)
            let nameEnd = trimmed.firstIndex(where: \.isWhitespace) ?? trimmed.endIndex
            if HTTPSyntax.equalsIgnoringCase(trimmed[..<nameEnd], "frame-ancestors") {
                return trimmed[nameEnd...].trimmingEdges(while: \.isWhitespace)
            }
        }
        return nil
    }

    /// The legacy header equivalent to a frame-ancestors source list, where one exists (RFC 7034 §2.1).
    package static func xFrameOptions(for frameAncestors: String) -> String? {
        if HTTPSyntax.equalsIgnoringCase(frameAncestors, "'none'") { return "DENY" }
        if HTTPSyntax.equalsIgnoringCase(frameAncestors, "'self'") { return "SAMEORIGIN" }
        return nil
    }

    /// Source lists compared as CSP compares them: whitespace-separated, keywords and hosts
    /// case-insensitive.
    package static func sameSources<A: StringProtocol, B: StringProtocol>(_ a: A, _ b: B) -> Bool {
        let x = a.split(whereSeparator: \.isWhitespace)
        let y = b.split(whereSeparator: \.isWhitespace)
        return x.count == y.count && zip(x, y).allSatisfy { HTTPSyntax.equalsIgnoringCase($0, $1) }
    }

    /// The value without surrounding spaces and tabs, or `nil` when there is none to send.
    ///
    /// Only OWS (RFC 9110 §5.6.3) is trimmed: a CR or LF anywhere, even a trailing one, is left
    /// for ``validate(_:)`` to report rather than quietly repaired.
    package static func present(_ value: String?) -> String? {
        guard let value else { return nil }
        let trimmed = Substring(value).trimmingEdges { $0 == " " || $0 == "\t" }
        return trimmed.isEmpty ? nil : String(trimmed)
    }
}
