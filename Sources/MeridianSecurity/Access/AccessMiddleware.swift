public import MeridianConfig
public import MeridianCore
internal import MeridianProxy
internal import NIOCore
internal import NIOHTTP1

/// `access:` on listeners and routes: refuses clients by address (403) before anything else of the route runs.
///
/// The listener's rules come first, then the route's; both see the client address after `server.trusted_proxies`.
/// An address that cannot be read (a forwarded hop that is not an address) is refused wherever rules exist.
public struct AccessMiddleware: Middleware {
    let listenerRules: [String: Configuration.AccessRules]
    let routeRules: Configuration.AccessRules?
    let trustedProxies: [IPNetwork]
    let counters: SecurityStats.AccessCounters

    public init(
        listeners: [String: Configuration.AccessRules], route: Configuration.AccessRules?, trustedProxies: [IPNetwork], routeLabel: String,
        stats: SecurityStats
    ) {
        self.listenerRules = listeners
        self.routeRules = route
        self.trustedProxies = trustedProxies
        self.counters = stats.accessCounters(route: routeLabel)
    }

    public func respond(to request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        let listener = listenerRules[request.connection.listener]
        guard listener != nil || routeRules != nil else { return next.respond(to: request, context: context) }
        let address = ClientAddress.of(request, trustedProxies: trustedProxies)?.bytes
        if let listener, !listener.permits(address) { return refuse("listener", context) }
        if let routeRules, !routeRules.permits(address) { return refuse("route", context) }
        return next.respond(to: request, context: context)
    }

    private func refuse(_ scope: String, _ context: RequestContext) -> ResponseFuture {
        context.annotate(AccessDeniedAnnotation.self, scope)
        (scope == "listener" ? counters.listener : counters.route).wrappingIncrement(ordering: .relaxed)
        return .immediate(.text(.forbidden, "forbidden\n"))
    }
}

extension Configuration.AccessRules {
    /// Whether a client at `address` (4 or 16 bytes; nil when unknown) may pass: not in `deny`, and in `allow` when
    /// `allow` lists anything. An IPv4-mapped IPv6 address is checked as IPv4.
    public func permits(_ address: [UInt8]?) -> Bool {
        guard let address else { return false }
        if deny.contains(where: { $0.contains(address) }) { return false }
        return allow.isEmpty || allow.contains { $0.contains(address) }
    }
}

/// Which rules refused the request (`listener` or `route`).
public enum AccessDeniedAnnotation: RecordAnnotationKey {
    public typealias Value = String
    public static let name = "access_denied"
}
