public import MeridianConfig
public import MeridianCore

/// `security_headers:` on a route: the preset's headers (HSTS, CSP, nosniff, …) on every answer, including
/// the ones the middleware inside it gives (401, 403, 429), kept or replaced per `override`.
public struct SecurityHeadersMiddleware: Middleware {
    let headers: SecurityHeaders

    public init(_ configuration: Configuration.SecurityHeaders) throws {
        self.headers = try SecurityHeaders(configuration)
    }

    public func respond(to request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        let headers = self.headers
        return next.respond(to: request, context: context).map { response in
            var response = response
            headers.apply(to: &response.headers)
            return response
        }
    }
}
