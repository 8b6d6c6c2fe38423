import MeridianSecurity
import MeridianConfig
import NIOHTTP1

/// Builders shared by the `CORSPolicy.evaluate` suites.
enum CORS {
    static let preflightVary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

    static func policy(
        origins: [String] = ["https://app.example.com"],
        methods: [String] = ["GET", "HEAD", "POST"],
        allowHeaders: [String] = [],
        exposeHeaders: [String] = [],
        credentials: Bool = false,
        maxAge: Int? = 600,
        allowPrivateNetwork: Bool = false
    ) throws -> CORSPolicy {
        try CORSPolicy(
            CORSPolicy.Configuration(
                origins: origins,
                methods: methods,
                allowHeaders: allowHeaders,
                exposeHeaders: exposeHeaders,
                credentials: credentials,
                maxAge: maxAge,
                allowPrivateNetwork: allowPrivateNetwork
            )
        )
    }

    static func preflight(
        _ policy: CORSPolicy,
        origin: String = "https://app.example.com",
        method: String = "GET",
        requestHeaders: String? = nil
    ) -> CORSDecision {
        var h = headers(("Origin", origin), ("Access-Control-Request-Method", method))
        if let requestHeaders {
            h.add(name: "Access-Control-Request-Headers", value: requestHeaders)
        }
        return policy.evaluate(method: .OPTIONS, headers: h)
    }

    static func rejection(_ decision: CORSDecision) -> (headers: [String], reason: String)? {
        guard case .preflightRejected(let h, let reason) = decision else { return nil }
        return (lines(h), reason)
    }
}
