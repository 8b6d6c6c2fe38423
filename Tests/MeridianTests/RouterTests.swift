import MeridianConfig
import NIOCore
import NIOHTTP1
import Testing

@testable import MeridianCore

/// Route and host precedence as a pure function: no sockets.
@Suite struct RouterTests {
    struct Named: Responder {
        let name: String
        func respond(to request: Request, context: RequestContext) -> ResponseFuture {
            .immediate(.text(.ok, name))
        }
    }

    func route(_ path: RoutePattern.Source, _ name: String, methods: [String] = [], headers: [Router.HeaderCondition] = []) throws -> Router.Route {
        Router.Route(pattern: try RoutePattern(path), methods: methods.map { HTTPMethod(rawValue: $0) }, headers: headers, responder: Named(name: name), name: name)
    }

    func winner(_ host: Router.VirtualHost, _ path: String, method: HTTPMethod = .GET, headers: HTTPHeaders = [:]) -> String? {
        if case .found(let r, _, _) = host.match(path: Substring(path), method: method, headers: headers) { return r.name }
        return nil
    }

    @Test func mostSpecificPathWins() throws {
        let host = Router.VirtualHost(names: [], isDefault: true, routes: [
            try route(.regex("^/users/.*$"), "regex"),
            try route(.prefix("/"), "root-prefix"),
            try route(.prefix("/users"), "users-prefix"),
            try route(.pattern("/users/*"), "users-wildcard"),
            try route(.pattern("/users/:id"), "users-param"),
            try route(.exact("/users/me"), "users-me"),
            try route(.pattern("/users/:id/posts"), "user-posts"),
        ])
        #expect(winner(host, "/users/me") == "users-me")
        #expect(winner(host, "/users/42") == "users-param")
        #expect(winner(host, "/users/42/posts") == "user-posts")
        #expect(winner(host, "/users/42/other") == "users-wildcard")
        #expect(winner(host, "/usersx") == "users-prefix")
        #expect(winner(host, "/else") == "root-prefix")
    }

    @Test func regexIsLastAndInWrittenOrder() throws {
        let host = Router.VirtualHost(names: [], isDefault: true, routes: [
            try route(.regex("^/v[0-9]+/"), "first"),
            try route(.regex("^/v1/"), "second"),
        ])
        #expect(winner(host, "/v1/x") == "first")
        #expect(winner(host, "/x") == nil)
    }

    @Test func moreConditionsWinOnEqualPaths() throws {
        let host = Router.VirtualHost(names: [], isDefault: true, routes: [
            try route(.prefix("/api"), "any"),
            try route(.prefix("/api"), "post", methods: ["POST"]),
            try route(.prefix("/api"), "beta", headers: [.init(name: "x-beta", value: "1")]),
        ])
        #expect(winner(host, "/api/x") == "any")
        #expect(winner(host, "/api/x", method: .POST) == "post")
        #expect(winner(host, "/api/x", headers: ["X-Beta": "1"]) == "beta")
        #expect(winner(host, "/api/x", headers: ["X-Beta": "2"]) == "any")
    }

    @Test func wrongMethodGives405WithAllow() throws {
        let host = Router.VirtualHost(names: [], isDefault: true, routes: [try route(.exact("/only-get"), "get", methods: ["GET"])])
        guard case .methodNotAllowed(let allowed) = host.match(path: "/only-get", method: .DELETE, headers: [:]) else {
            Issue.record("expected 405")
            return
        }
        #expect(allowed == [.GET])
        #expect(winner(host, "/only-get", method: .HEAD) == "get")
    }

    @Test func parametersAreCaptured() throws {
        let pattern = try RoutePattern(.pattern("/users/:id/files/*"))
        let m = try #require(pattern.match("/users/7/files/a/b.txt"))
        #expect(m.parameters.map(\.name) == ["id", "*"])
        #expect(m.parameters.map { String($0.value) } == ["7", "a/b.txt"])
        #expect(pattern.match("/users//files/x") == nil)
        #expect(pattern.match("/users/7") == nil)
    }

    @Test func hostsExactThenLongestWildcardThenDefault() throws {
        let r = Router(hosts: [
            Router.VirtualHost(names: ["example.com"], isDefault: false, routes: []),
            Router.VirtualHost(names: ["*.example.com"], isDefault: false, routes: []),
            Router.VirtualHost(names: ["*.api.example.com"], isDefault: false, routes: []),
            Router.VirtualHost(names: ["fallback.test"], isDefault: true, routes: []),
        ])
        #expect(r.host(for: "example.com").names == ["example.com"])
        #expect(r.host(for: "www.example.com").names == ["*.example.com"])
        #expect(r.host(for: "a.b.example.com").names == ["*.example.com"])
        #expect(r.host(for: "v1.api.example.com").names == ["*.api.example.com"])
        #expect(r.host(for: "other.org").names == ["fallback.test"])
        #expect(Request.normalizedHost("Example.COM.:8080") == "example.com")
        #expect(Request.normalizedHost("[::1]:80") == "[::1]")
        #expect(Request.normalizedHost("[FE80::1]") == "[fe80::1]")
        #expect(Request.normalizedHost("example.com") == "example.com")
        #expect(Request.normalizedHost("127.0.0.1:8080") == "127.0.0.1")
        #expect(Request.normalizedHost("a-Very-Long-Host-Name.Example.ORG") == "a-very-long-host-name.example.org")
        #expect(Request.normalizedHost("host.:") == "host")
        #expect(Request.normalizedHost("") == "")
        #expect(Request.normalizedHost("\u{e9}xample.com") == "\u{e9}xample.com")  // bytes above ASCII stay as they are
    }

    @Test func pathNormalisation() {
        func n(_ p: String) -> String? { try? PathNormalizer.normalize(Substring(p)).get().description }
        #expect(n("/a/b") == "/a/b")
        #expect(n("/%61dmin") == "/admin")
        #expect(n("/a/./b/../c") == "/a/c")
        #expect(n("/a/%2e%2e/b") == "/b")
        #expect(n("/a/%2F/b") == "/a/%2F/b")
        #expect(n("/a/..") == "/")
        #expect(n("/..") == nil)
        #expect(n("/%2e%2e/etc") == nil)
        #expect(n("/%zz") == nil)
    }
}
