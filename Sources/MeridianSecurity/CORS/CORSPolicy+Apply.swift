internal import MeridianConfig
public import NIOHTTP1

extension CORSPolicy {
    /// Merges the headers of an `.actual` or `.actualDisallowed` decision into the upstream's
    /// response.
    ///
    /// The gateway owns CORS on a route with a policy: every `Access-Control-*` header the
    /// upstream sent is dropped first, so an upstream's `Access-Control-Allow-Origin: *` (a
    /// framework default) can neither widen the policy nor sit next to ours as a second value,
    /// which browsers reject (Fetch §3.2.5). `Vary` is merged instead of replaced (RFC 9110
    /// §12.5.5): missing tokens are appended, tokens compare case-insensitively so
    /// `Vary: Origin, Origin` never appears, and `Vary: *` is left as it is because it already
    /// covers everything.
    public func apply(_ decisionHeaders: HTTPHeaders, to response: inout HTTPHeaders) {
        if response.contains(where: { Self.isAccessControlName($0.name) }) {
            response = HTTPHeaders(response.filter { !Self.isAccessControlName($0.name) })
        }
        for (name, value) in decisionHeaders {
            if HTTPSyntax.equalsIgnoringCase(name, "vary") {
                Self.mergeVary(value, into: &response)
            } else if Self.isAccessControlName(name) {
                response.add(name: name, value: value)
            } else {
                response.replaceOrAdd(name: name, value: value)
            }
        }
    }

    private static func isAccessControlName(_ name: String) -> Bool {
        let prefix = "access-control-".utf8
        let bytes = name.utf8
        return bytes.count > prefix.count
            && zip(bytes.prefix(prefix.count), prefix).allSatisfy { HTTPSyntax.lowercased($0) == $1 }
    }

    static func mergeVary(_ value: String, into response: inout HTTPHeaders) {
        var hasVary = false
        for (name, existing) in response where HTTPSyntax.equalsIgnoringCase(name, "vary") {
            hasVary = true
            for token in CommaSeparatedList(existing) where token == "*" {
                return
            }
        }
        guard hasVary else {
            response.add(name: "Vary", value: value)
            return
        }
        var missing: [Substring] = []
        for token in CommaSeparatedList(value)
        where !varies(response, on: token) && !missing.contains(where: { HTTPSyntax.equalsIgnoringCase($0, token) }) {
            missing.append(token)
        }
        guard !missing.isEmpty else { return }

        var tokens: [Substring] = []
        for (name, existing) in response where HTTPSyntax.equalsIgnoringCase(name, "vary") {
            for token in CommaSeparatedList(existing)
            where !tokens.contains(where: { HTTPSyntax.equalsIgnoringCase($0, token) }) {
                tokens.append(token)
            }
        }
        response.replaceOrAdd(name: "Vary", value: (tokens + missing).joined(separator: ", "))
    }

    private static func varies(_ response: HTTPHeaders, on token: Substring) -> Bool {
        for (name, existing) in response where HTTPSyntax.equalsIgnoringCase(name, "vary") {
            for present in CommaSeparatedList(existing) where HTTPSyntax.equalsIgnoringCase(present, token) {
                return true
            }
        }
        return false
    }
}
