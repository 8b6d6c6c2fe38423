internal import Atomics
public import MeridianConfig
public import MeridianCore
internal import MeridianProxy
public import NIOCore
internal import NIOHTTP1

/// `auth: NAME` on a route: the named authenticator decides; an allowed request goes on with the identity's
/// headers set (and any copies the client sent removed), a refused one is answered here.
public struct AuthMiddleware: Middleware {
    let name: String
    let authenticator: any RequestAuthenticator
    let counters: [String: ManagedAtomic<Int>]
    /// `upstreamHeaders`, lower-cased.
    let strip: [String]
    let bruteForce: BruteForceGuard?
    let trustedProxies: [IPNetwork]
    /// Refusals that are not wrong credentials: no credentials at all, a token that merely expired, a busy hash pool.
    static let notFailures: Set<String> = ["missing", "expired", "not_yet_valid", "overloaded", "banned"]

    public init(
        name: String, authenticator: any RequestAuthenticator, stats: SecurityStats, bruteForce: BruteForceGuard? = nil,
        trustedProxies: [IPNetwork] = []
    ) {
        self.name = name
        self.authenticator = authenticator
        self.counters = stats.authCounters(name, results: ["ok"] + authenticator.deniedResults + (bruteForce == nil ? [] : ["banned"]))
        self.strip = authenticator.upstreamHeaders.map { $0.lowercased() }
        self.bruteForce = bruteForce
        self.trustedProxies = trustedProxies
    }

    public func respond(to request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        var keys: [String] = []
        if let bruteForce {
            keys = bruteForce.keys(
                address: ClientAddress.of(request, trustedProxies: trustedProxies)?.text, user: authenticator.claimedUser(request), authenticator: name
            )
            if let remaining = bruteForce.banned(keys) {
                var r = Response.text(.forbidden, "too many failed attempts; try again later\n")
                r.headers.add(name: "retry-after", value: String(max(1, remaining.components.seconds + (remaining.components.attoseconds > 0 ? 1 : 0))))
                r.headers.add(name: "cache-control", value: "no-store")
                return carryOut(.denied(r, result: "banned"), keys: [], request: request, context: context, next: next)
            }
        }
        switch authenticator.authenticate(request, context: context) {
        case .now(let outcome):
            return carryOut(outcome, keys: keys, request: request, context: context, next: next)
        case .later(let future):
            return .eventually(
                future.flatMap { outcome in
                    self.carryOut(outcome, keys: keys, request: request, context: context, next: next).future(on: context.eventLoop)
                }
            )
        }
    }

    private func carryOut(_ outcome: AuthOutcome, keys: [String], request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        switch outcome {
        case .allowed(let identity, let headers):
            counters["ok"]?.wrappingIncrement(ordering: .relaxed)
            context.annotate(AuthUserAnnotation.self, identity)
            return next.respond(to: forwarding(request, headers), context: context)
        case .denied(let response, let result):
            counters[result]?.wrappingIncrement(ordering: .relaxed)
            context.annotate(AuthResultAnnotation.self, "\(name):\(result)")
            if let bruteForce, !keys.isEmpty, !Self.notFailures.contains(result) { bruteForce.failed(keys, on: context.eventLoop) }
            return .immediate(response)
        }
    }

    /// The request as the route's action sees it: the client's copies of the identity headers removed, ours added.
    func forwarding(_ request: Request, _ headers: [(name: String, value: String)]) -> Request {
        let present = strip.contains { request.fields.contains(name: $0) }
        if headers.isEmpty, !present { return request }
        var head = request.head
        for name in strip { head.headers.remove(name: name) }
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        return Request(head: head, id: request.id, connection: request.connection, startedAt: request.startedAt, trace: request.trace, body: request.body)
    }
}

/// Who the request was authenticated as (a user, an API key's name, a token's subject).
public enum AuthUserAnnotation: RecordAnnotationKey {
    public typealias Value = String
    public static let name = "user"
}

/// Why authentication refused the request, as `authenticator:result`.
public enum AuthResultAnnotation: RecordAnnotationKey {
    public typealias Value = String
    public static let name = "auth_error"
}
