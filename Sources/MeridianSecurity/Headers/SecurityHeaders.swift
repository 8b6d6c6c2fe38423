public import MeridianConfig
public import NIOHTTP1

/// Adds the browser security headers that helmet, Caddy and the Mozilla Observatory recommend.
///
/// The header list is built once from the ``Configuration``; ``apply(to:)`` runs per response on
/// an event loop, so it walks the response headers once and adds precomputed strings.
public struct SecurityHeaders: Sendable {
    /// The headers as the config file gives them (``MeridianConfig/Configuration/SecurityHeaders``).
    public typealias Configuration = MeridianConfig.Configuration.SecurityHeaders
    public typealias Preset = MeridianConfig.Configuration.SecurityHeadersPreset

    /// The configuration this was built from.
    public let configuration: Configuration
    /// The headers added to a response that has none of them, in a fixed order.
    public let headers: HTTPHeaders

    /// Builds the header list, refusing a configuration that ``validate(_:)`` finds problems in.
    public init(_ configuration: Configuration) throws(SecurityConfigurationError) {
        let problems = configuration.problems
        guard problems.isEmpty else {
            throw SecurityConfigurationError(component: "security_headers", problems: problems)
        }
        self.configuration = configuration

        var headers = HTTPHeaders()
        func add(_ name: String, _ value: String?) {
            if let value = Configuration.present(value) { headers.add(name: name, value: value) }
        }
        let frameAncestors = Configuration.present(configuration.frameAncestors)
        add("Strict-Transport-Security", configuration.hsts)
        add("X-Content-Type-Options", configuration.contentTypeOptions ? "nosniff" : nil)
        add("X-Frame-Options", frameAncestors.flatMap(Configuration.xFrameOptions(for:)))
        add("Referrer-Policy", configuration.referrerPolicy)
        let policy = Configuration.present(configuration.contentSecurityPolicy)
        add("Content-Security-Policy", Configuration.contentSecurityPolicy(policy, frameAncestors: frameAncestors))
        add("Permissions-Policy", configuration.permissionsPolicy)
        add("Cross-Origin-Opener-Policy", configuration.crossOriginOpenerPolicy)
        add("Cross-Origin-Resource-Policy", configuration.crossOriginResourcePolicy)
        self.headers = headers
    }

    /// Adds the headers to a response.
    ///
    /// Without `override`, a header the response already has (under any capitalisation) is kept
    /// and ours skipped; with it, the response's copies are removed and ours added, so no header
    /// ends up with two conflicting values.
    public func apply(to response: inout HTTPHeaders) {
        guard !headers.isEmpty else { return }
        var present: UInt32 = 0
        for (name, _) in response {
            for (index, ours) in headers.enumerated()
            where name.utf8.count == ours.name.utf8.count && HTTPSyntax.equalsIgnoringCase(name, ours.name) {
                present |= 1 << UInt32(index)
            }
        }
        if configuration.override {
            if present != 0 {
                response = HTTPHeaders(
                    response.filter { field in
                        !headers.contains { HTTPSyntax.equalsIgnoringCase($0.name, field.name) }
                    }
                )
            }
            response.add(contentsOf: headers)
        } else {
            for (index, ours) in headers.enumerated() where present & (1 << UInt32(index)) == 0 {
                response.add(name: ours.name, value: ours.value)
            }
        }
    }
}
