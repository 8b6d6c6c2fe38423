extension Configuration.SecurityHeaders {
    /// Every problem in a configuration, each saying what is wrong and what to write instead.
    ///
    /// Catches what browsers would silently ignore (an HSTS value without `max-age`, a misspelt
    /// referrer policy, Feature-Policy syntax in `Permissions-Policy`) and what could break the
    /// response (line breaks that would end the header early or smuggle another one in).
    /// Every problem in these headers (``validate(_:)``); empty when they are usable.
    public var problems: [String] { Self.validate(self) }

    public static func validate(_ configuration: Configuration.SecurityHeaders) -> [String] {
        var problems: [String] = []
        let fields: [(name: String, value: String?, check: (String) -> String?)] = [
            ("hsts", configuration.hsts, hstsProblem),
            ("referrerPolicy", configuration.referrerPolicy, referrerPolicyProblem),
            ("contentSecurityPolicy", configuration.contentSecurityPolicy, { _ in nil }),
            ("permissionsPolicy", configuration.permissionsPolicy, permissionsPolicyProblem),
            ("crossOriginOpenerPolicy", configuration.crossOriginOpenerPolicy, openerPolicyProblem),
            ("crossOriginResourcePolicy", configuration.crossOriginResourcePolicy, resourcePolicyProblem),
            ("frameAncestors", configuration.frameAncestors, frameAncestorsProblem),
        ]
        var wellFormed: Set<String> = []
        for field in fields {
            guard let value = present(field.value) else { continue }
            if let problem = characterProblem(value) {
                problems.append("\(field.name) \(problem)")
            } else if let problem = field.check(value) {
                problems.append(problem)
            } else {
                wellFormed.insert(field.name)
            }
        }
        if wellFormed.contains("contentSecurityPolicy"), wellFormed.contains("frameAncestors"),
            let policy = present(configuration.contentSecurityPolicy),
            let frameAncestors = present(configuration.frameAncestors),
            let own = frameAncestorsDirective(in: policy), !sameSources(own, frameAncestors)
        {
            problems.append(
                "contentSecurityPolicy has its own frame-ancestors directive (\(String(own).debugDescription)) that "
                    + "differs from frameAncestors (\(frameAncestors.debugDescription)); set framing in one place — "
                    + "remove the directive from contentSecurityPolicy, or write frameAncestors: \"\" to keep the "
                    + "policy's"
            )
        }
        return problems
    }

    /// Field values are visible ASCII, spaces and tabs (RFC 9110 §5.5); anything else is refused
    /// by HTTP stacks or, worse for CR/LF, splits the header.
    private static func characterProblem(_ value: String) -> String? {
        for scalar in value.unicodeScalars {
            switch scalar.value {
            case 0x0A, 0x0D:
                return "contains a line break (CR or LF), which would end the header early or inject another; "
                    + "keep the value on one line"
            case 0x00:
                return "contains a NUL character; remove it"
            case 0x09, 0x20..<0x7F:
                continue
            case 0x7F, 0x01..<0x20:
                return "contains the non-visible character \(scalar.escaped(asASCII: true)); header values may "
                    + "only hold visible ASCII, spaces and tabs (RFC 9110 §5.5) — remove it"
            default:
                return "contains the non-ASCII character \"\(scalar)\"; header values are ASCII (RFC 9110 §5.5) — "
                    + "use punycode for host names and percent-encoding in URLs"
            }
        }
        return nil
    }

    /// RFC 6797 §6.1: `;`-separated directives, each at most once, `max-age` required and a
    /// number of seconds (optionally quoted).
    private static func hstsProblem(_ value: String) -> String? {
        var seen: Set<String> = []
        var hasMaxAge = false
        for directive in value.split(separator: ";") {
            let trimmed = directive.trimmingEdges(while: \.isWhitespace)
            guard !trimmed.isEmpty else { continue }
            let equals = trimmed.firstIndex(of: "=")
            let name = trimmed[..<(equals ?? trimmed.endIndex)].trimmingEdges(while: \.isWhitespace).lowercased()
            guard seen.insert(name).inserted else {
                return "hsts has the directive \(name) twice; RFC 6797 §6.1 makes browsers ignore such a header — "
                    + "keep one, e.g. \"max-age=63072000; includeSubDomains\""
            }
            guard name == "max-age" else { continue }
            hasMaxAge = true
            var seconds = equals.map { trimmed[trimmed.index(after: $0)...].trimmingEdges(while: \.isWhitespace) } ?? ""
            if seconds.count >= 2, seconds.first == "\"", seconds.last == "\"" {
                seconds = seconds.dropFirst().dropLast()
            }
            guard !seconds.isEmpty, seconds.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                return "hsts max-age \(String(seconds).debugDescription) is not a whole number of seconds "
                    + "(RFC 6797 §6.1.1); write e.g. \"max-age=63072000\" (two years)"
            }
        }
        guard hasMaxAge else {
            return "hsts \(value.debugDescription) has no max-age directive, so browsers ignore the header "
                + "(RFC 6797 §6.1.1); write e.g. \"max-age=63072000; includeSubDomains\""
        }
        return nil
    }

    private static let referrerPolicies = [
        "no-referrer", "no-referrer-when-downgrade", "same-origin", "origin", "strict-origin",
        "origin-when-cross-origin", "strict-origin-when-cross-origin", "unsafe-url",
    ]

    /// W3C Referrer Policy §4.1: a comma list of policy tokens, of which browsers use the last
    /// they know, so a misspelt one is silently dropped.
    private static func referrerPolicyProblem(_ value: String) -> String? {
        for token in CommaSeparatedList(value)
        where !referrerPolicies.contains(where: { HTTPSyntax.equalsIgnoringCase($0, token) }) {
            return "referrerPolicy \(String(token).debugDescription) is not a referrer policy (W3C Referrer Policy "
                + "§3); use one of: \(referrerPolicies.joined(separator: ", "))"
        }
        return nil
    }

    /// HTML §7.1.3: browsers compare the value's token exactly and ignore anything else.
    private static func openerPolicyProblem(_ value: String) -> String? {
        let allowed = ["same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none"]
        let token = value.prefix { $0 != ";" }.trimmingEdges(while: \.isWhitespace)
        guard allowed.contains(String(token)) else {
            return "crossOriginOpenerPolicy \(value.debugDescription) is not a Cross-Origin-Opener-Policy value "
                + "(HTML §7.1.3); use one of: \(allowed.joined(separator: ", "))"
        }
        return nil
    }

    /// Fetch §3.7: exactly `same-origin`, `same-site` or `cross-origin`, anything else is ignored.
    private static func resourcePolicyProblem(_ value: String) -> String? {
        let allowed = ["same-origin", "same-site", "cross-origin"]
        guard allowed.contains(value) else {
            return "crossOriginResourcePolicy \(value.debugDescription) is not a Cross-Origin-Resource-Policy value "
                + "(Fetch §3.7); use one of: \(allowed.joined(separator: ", "))"
        }
        return nil
    }

    /// A CSP source list (CSP3 §2.3.1) that stays inside its directive.
    private static func frameAncestorsProblem(_ value: String) -> String? {
        if value.contains(";") || value.contains(",") {
            return "frameAncestors \(value.debugDescription) contains ';' or ',', which would end the directive "
                + "(CSP3 §2.2.1); write only the source list, e.g. \"'self' https://partner.example\""
        }
        let sources = value.split(whereSeparator: \.isWhitespace)
        for source in sources where ["self", "none"].contains(source.lowercased()) {
            return "frameAncestors \(String(source).debugDescription) would be read as a host named \(source); "
                + "write the keyword in single quotes: \"'\(source.lowercased())'\""
        }
        if sources.count > 1, sources.contains(where: { HTTPSyntax.equalsIgnoringCase($0, "'none'") }) {
            return "frameAncestors \(value.debugDescription) mixes 'none' with other sources, and CSP3 §2.3.1 "
                + "ignores 'none' then; write \"'none'\" alone, or only the allowed ancestors"
        }
        return nil
    }

    /// W3C Permissions Policy §5.2 is a structured-field dictionary; the older Feature-Policy
    /// syntax with quoted keywords is silently ignored by browsers.
    private static func permissionsPolicyProblem(_ value: String) -> String? {
        guard value.contains("'") else { return nil }
        return "permissionsPolicy \(value.debugDescription) uses the old Feature-Policy syntax ('none', 'self'); "
            + "Permissions-Policy is a dictionary (W3C Permissions Policy §5.2) — write e.g. "
            + "\"camera=(), microphone=(), geolocation=(self)\""
    }
}
