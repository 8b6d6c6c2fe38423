/// Why a `WAFEngine` could not be built, in words an operator can act on.
///
/// A struct over a private kind, so adding a kind later breaks no caller. Equal when the kind
/// matches, whatever the detail; `description` carries what is wrong, where (the rule file or
/// inline rule, with ModSecurity's own `file:line` text when it gives one) and what to do.
/// `modSecurityMessage` is ModSecurity's parser error verbatim, for tests and logs.
public struct WAFEngineError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
        case invalidConfiguration
        case ruleLoadFailed
    }

    private let kind: Kind
    private let detail: String
    /// ModSecurity's error string when it refused a rule source, nil for Meridian's own checks.
    public let modSecurityMessage: String?
    /// The rule file path, or a name such as `inline rules #1`, that failed to load.
    public let source: String?

    private init(_ kind: Kind, _ detail: String, modSecurityMessage: String? = nil, source: String? = nil) {
        self.kind = kind
        self.detail = detail
        self.modSecurityMessage = modSecurityMessage
        self.source = source
    }

    /// A setting is out of range (paranoia level, threshold, body bound, method token, …).
    public static let invalidConfiguration = WAFEngineError(.invalidConfiguration, "")
    /// ModSecurity refused a rule file or inline rule (a syntax error, a duplicate id, a missing file).
    public static let ruleLoadFailed = WAFEngineError(.ruleLoadFailed, "")

    static func invalidConfiguration(_ problem: String) -> WAFEngineError {
        WAFEngineError(.invalidConfiguration, "invalid WAF configuration: \(problem)")
    }

    static func ruleLoadFailed(source: String, message: String) -> WAFEngineError {
        let trimmed = message.trimmingTrailingWhitespace()
        return WAFEngineError(
            .ruleLoadFailed,
            "ModSecurity refused the rules in \(source): \(trimmed); fix or remove that rule and reload",
            modSecurityMessage: trimmed,
            source: source
        )
    }

    public var description: String {
        if !detail.isEmpty { return detail }
        switch kind {
        case .invalidConfiguration: return "invalid WAF configuration"
        case .ruleLoadFailed: return "ModSecurity refused a rule"
        }
    }

    public static func == (lhs: WAFEngineError, rhs: WAFEngineError) -> Bool {
        lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
    }
}

extension String {
    fileprivate func trimmingTrailingWhitespace() -> String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
