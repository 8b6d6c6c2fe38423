public import MeridianConfig
public import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// `cors:` on a route: a preflight is answered here (204, or 403 when the origin, method or a header is not
/// allowed) and never reaches the route's action; other cross-origin requests go on and their answers get the
/// `Access-Control-*` headers of the policy (an upstream's own are replaced, so it cannot widen the policy).
public struct CORSMiddleware: Middleware {
    let policy: CORSPolicy

    public init(_ configuration: Configuration.CORS) throws {
        self.policy = try CORSPolicy(configuration)
    }

    public func respond(to request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        switch policy.evaluate(method: request.method, headers: request.headers) {
        case .notCORS:
            return next.respond(to: request, context: context)
        case .preflight(let headers):
            context.annotate(CORSAnnotation.self, "preflight")
            return .immediate(Response(status: .noContent, headers: headers))
        case .preflightRejected(let headers, let reason):
            context.annotate(CORSAnnotation.self, "rejected: \(reason)")
            var r = Response.text(.forbidden, "CORS preflight refused: \(reason)\n")
            for (name, value) in headers { r.headers.add(name: name, value: value) }
            return .immediate(r)
        case .actual(let headers), .actualDisallowed(let headers):
            let policy = self.policy
            return next.respond(to: request, context: context).map { response in
                var response = response
                policy.apply(headers, to: &response.headers)
                return response
            }
        }
    }
}

/// What CORS did with a request: `preflight` (answered here) or `rejected: WHY`.
public enum CORSAnnotation: RecordAnnotationKey {
    public typealias Value = String
    public static let name = "cors"
}
