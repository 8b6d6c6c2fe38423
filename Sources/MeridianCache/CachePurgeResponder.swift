internal import Foundation
public import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// `POST /cache/purge` on the admin listener: `{"url": "https://example.com/a"}`, `{"prefix": "https://example.com/api/"}`,
/// `{"tag": "product-42"}`, or the plural forms with lists, any mix in one call. Answers what was purged and how far
/// (`cluster`: recorded in Redis and published, so every instance drops its copies; `instance`: Redis is absent or down).
public struct CachePurgeResponder: Responder {
    let cache: HTTPCache
    static let maxBody = 64 * 1024

    public init(cache: HTTPCache) {
        self.cache = cache
    }

    public func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        guard request.method == .POST else {
            var r = Response.text(.methodNotAllowed, "405 Method Not Allowed: POST a JSON object such as {\"tag\": \"product-42\"}\n")
            r.headers.add(name: "allow", value: "POST")
            return .immediate(r)
        }
        let loop = context.eventLoop
        let cache = self.cache
        return .eventually(
            request.body.collect(upTo: Self.maxBody, on: loop).flatMap { body -> EventLoopFuture<Response> in
                let purges: [(PurgeBan.Kind, String)]
                switch Self.parse(body) {
                case .failure(let problem):
                    return loop.makeSucceededFuture(.text(.badRequest, "400 Bad Request: \(problem.message)\n"))
                case .success(let p):
                    purges = p
                }
                let futures = purges.map { kind, value in cache.purge(kind, value, on: loop).map { (kind, value, $0) } }
                return EventLoopFuture.whenAllSucceed(futures, on: loop).map { results in
                    let items = results.map { kind, value, outcome -> [String: Any] in
                        ["kind": kind.rawValue, "value": value, "scope": outcome.scope, "removed_here": outcome.removedHere]
                    }
                    return Self.json(["purged": items])
                }
            }.flatMapErrorThrowing { error in
                if let e = error as? RequestBodyError { return .text(e.status, "\(e.status.code) \(e.status.reasonPhrase): \(e)\n") }
                return .text(.internalServerError, "500 Internal Server Error: \(error)\n")
            }
        )
    }

    /// A 200 with `object` as JSON (sorted keys, one line).
    static func json(_ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        var body = ByteBuffer(bytes: data)
        body.writeString("\n")
        return Response(status: .ok, headers: headers, body: .buffer(body))
    }

    struct Problem: Error {
        var message: String
    }

    /// The purges a request body asks for, or what is wrong with it.
    static func parse(_ body: ByteBuffer) -> Result<[(PurgeBan.Kind, String)], Problem> {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else {
            return .failure(Problem(message: "the body is not a JSON object; send {\"url\": ...}, {\"prefix\": ...} or {\"tag\": ...}"))
        }
        let known: [String: PurgeBan.Kind] = [
            "url": .url, "urls": .url, "prefix": .prefix, "prefixes": .prefix, "tag": .tag, "tags": .tag,
        ]
        var purges: [(PurgeBan.Kind, String)] = []
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            guard let kind = known[key] else {
                return .failure(Problem(message: "unknown key '\(key)'; expected url, urls, prefix, prefixes, tag or tags"))
            }
            let values: [String]
            if let one = value as? String {
                values = [one]
            } else if let many = value as? [String] {
                values = many
            } else {
                return .failure(Problem(message: "'\(key)' must be a string or a list of strings"))
            }
            for v in values {
                if v.isEmpty { return .failure(Problem(message: "'\(key)' holds an empty value")) }
                if kind != .tag, !(v.hasPrefix("http://") || v.hasPrefix("https://")) {
                    return .failure(Problem(message: "'\(v)' is not an absolute URL; give it as https://host/path"))
                }
                purges.append((kind, kind == .tag ? v : normalizedURL(v)))
            }
        }
        if purges.isEmpty { return .failure(Problem(message: "nothing to purge; give url, prefix or tag")) }
        return .success(purges)
    }

    /// The URL as the cache keys it: host lower-cased, query normalised like keys (sorted parameters).
    static func normalizedURL(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let scheme = String(url[..<schemeEnd.lowerBound]).lowercased()
        let rest = url[schemeEnd.upperBound...]
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let host = Request.normalizedHost(String(rest[..<slash]))
        let target = rest[slash...]
        guard let q = target.firstIndex(of: "?") else { return "\(scheme)://\(host)\(target.isEmpty ? "/" : String(target))" }
        return CacheKey.url(scheme: scheme, host: host, path: target[..<q], query: target[target.index(after: q)...])
    }
}
