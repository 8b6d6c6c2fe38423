public import MeridianConfig
public import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// The `respond` action: a fixed status, headers and body.
public struct FixedResponder: Responder {
    let response: Response

    public init(_ action: Configuration.RespondAction) {
        var headers = HTTPHeaders(action.headers)
        if !action.body.isEmpty && !headers.contains(name: "content-type") {
            headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        }
        let body: ResponseBody = action.body.isEmpty ? .empty : .buffer(ByteBuffer(string: action.body))
        self.response = Response(status: HTTPResponseStatus(statusCode: action.status), headers: headers, body: body)
    }

    public func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        .immediate(response)
    }
}

/// The `redirect` action. The target may use `$uri`, `$request_uri`, `$query`, `$host`, `$scheme`,
/// `$1`..`$9` (regex captures) and `:name` / `*` (route parameters).
public struct RedirectResponder: Responder {
    let target: String
    let status: HTTPResponseStatus

    public init(_ action: Configuration.RedirectAction) {
        self.target = action.to
        self.status = HTTPResponseStatus(statusCode: action.status)
    }

    public func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        let location = Self.expand(target, request: request, context: context)
        return .immediate(
            .text(status, "\(status.code) \(status.reasonPhrase): \(location)\n", headers: ["location": location])
        )
    }

    static func expand(_ template: String, request: Request, context: RequestContext) -> String {
        guard template.contains("$") || template.contains(":") || template.contains("*") else { return template }
        var out = ""
        var it = Substring(template)
        let variables: [(String, () -> String)] = [
            ("$request_uri", { request.uri }),
            ("$uri", { String(request.path) }),
            ("$query", { request.query.map(String.init) ?? "" }),
            ("$host", { request.host }),
            ("$scheme", { request.connection.scheme }),
        ]
        outer: while let c = it.first {
            if c == "$" {
                for (name, value) in variables where it.hasPrefix(name) {
                    out += value()
                    it = it.dropFirst(name.count)
                    continue outer
                }
                if let d = it.dropFirst().first, let n = d.wholeNumberValue {
                    out += n < context.captures.count ? String(context.captures[n]) : ""
                    it = it.dropFirst(2)
                    continue
                }
            } else if c == ":" || c == "*", out.hasSuffix("/") || c == "*" {
                // Route parameters only where a path segment starts (so `https:` stays as it is).
                let name = c == "*" ? "*" : String(it.dropFirst().prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" }))
                if let value = context.parameter(name), !name.isEmpty {
                    out += value
                    it = it.dropFirst(c == "*" ? 1 : name.count + 1)
                    continue
                }
            }
            out.append(c)
            it = it.dropFirst()
        }
        return out
    }
}

/// Adds a route's configured `headers` to every response it gives.
public struct ResponseHeadersMiddleware: Middleware {
    let headers: [(String, String)]

    public init(_ headers: [(String, String)]) {
        self.headers = headers
    }

    public func respond(to request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        let headers = self.headers
        return next.respond(to: request, context: context).map { response in
            var response = response
            for (name, value) in headers { response.headers.replaceOrAdd(name: name, value: value) }
            return response
        }
    }
}
