import Foundation
import Testing

/// Bearer tokens minted by PyJWT (and forged by hand the way attackers do) against a route with `auth: jwt`, in
/// front of a real upstream; keys from PEM files, an HMAC secret file and a JWKS server that rotates its key.
@Suite struct JWTAuthTests {
    /// Keys made by `Tests/tools/jwt_tool.py keys` in a fresh directory.
    struct Keys {
        let directory: URL
        var path: String { directory.path }
        func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

        static func make() async throws -> Keys {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-jwt-\(UUID().uuidString)")
            let (code, out) = try await Subprocess.run("python3", [TestTools.path("jwt_tool.py"), "keys", dir.path])
            guard code == 0 else { throw TestError("jwt_tool.py keys: \(out)") }
            return Keys(directory: dir)
        }

        /// Tokens by name, from `[name: (key, alg, kid, claims)]`; `exp` defaults to five minutes ahead, and a nil
        /// claim value removes the claim.
        func mint(_ specs: [(name: String, key: String, alg: String, kid: String?, claims: [String: Any?])]) async throws -> [String: String] {
            let list: [[String: Any]] = specs.map { s in
                var item: [String: Any] = ["name": s.name, "key": s.key, "alg": s.alg]
                if let kid = s.kid { item["kid"] = kid }
                item["claims"] = s.claims.mapValues { $0 ?? NSNull() }
                return item
            }
            let spec = String(decoding: try JSONSerialization.data(withJSONObject: list), as: UTF8.self)
            let (code, out) = try await Subprocess.run("python3", [TestTools.path("jwt_tool.py"), "mint", path, spec])
            guard code == 0, let tokens = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: String] else {
                throw TestError("jwt_tool.py mint: \(out)")
            }
            return tokens
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    static func config(_ upstreams: [TestUpstream], jwt: String) -> String {
        """
        upstreams:
          - name: api
            endpoints: [\(upstreams.map(\.address).joined(separator: ", "))]
        auth:
          tokens:
            jwt:
        \(jwt.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                proxy: api
                auth: tokens
        """
    }

    static func bearer(_ token: String) -> [String: String] { ["Authorization": "Bearer \(token)"] }

    @Test func tokensAreCheckedAsRFC6750SaysAndClaimsReachTheUpstream() async throws {
        let keys = try await Keys.make()
        defer { keys.remove() }
        let claims: [String: Any?] = ["sub": "alice", "iss": "https://id.example", "aud": "meridian", "tenant": "acme"]
        func with(_ changes: [String: Any?]) -> [String: Any?] { claims.merging(changes) { _, new in new } }
        let t = try await keys.mint([
            ("rs256", "rsa-1", "RS256", "rsa-1", claims),
            ("es256", "ec-1", "ES256", nil, claims),
            ("hs256", "hmac", "HS256", nil, claims),
            ("expired", "rsa-1", "RS256", "rsa-1", with(["exp": Int(Date().timeIntervalSince1970) - 120])),
            ("wrongAudience", "rsa-1", "RS256", "rsa-1", with(["aud": "someone-else"])),
            ("wrongIssuer", "rsa-1", "RS256", "rsa-1", with(["iss": "https://evil.example"])),
            ("otherKey", "rsa-2", "RS256", "rsa-1", claims),
            ("unsigned", "none", "none", "rsa-1", claims),
            ("confusion", "confusion", "HS256", "rsa-1", claims),
            ("noSubject", "rsa-1", "RS256", "rsa-1", with(["sub": nil])),
        ])
        let jwt = """
            keys:
              - {kid: rsa-1, alg: RS256, file: \(keys.file("rsa-1.pub.pem"))}
              - {alg: ES256, file: \(keys.file("ec-1.pub.pem"))}
              - {alg: HS256, secret_file: \(keys.file("hmac.secret"))}
            issuer: https://id.example
            audience: meridian
            required_claims: [sub]
            forward_claims: {sub: X-User-Id, tenant: X-Tenant}
            realm: api
            """
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups, jwt: jwt)) { s in
                for name in ["rs256", "es256", "hs256"] {
                    let ok = try await s.get("/", headers: Self.bearer(t[name]!).merging(["X-User-Id": "root"]) { a, _ in a })
                    #expect(ok.status == 200, "\(name)")
                    #expect(ok.text.contains("x-user-id: alice\n") && ok.text.contains("x-tenant: acme\n"), "\(name): \(ok.text)")
                    #expect(!ok.text.contains("x-user-id: root"), "a client's own X-User-Id never reaches the upstream")
                }
                let none = try await s.get("/")
                #expect(none.status == 401 && none.header("www-authenticate") == "Bearer realm=\"api\"", "RFC 6750 §3.1: no error without credentials")
                let refusals: [(String, String)] = [
                    ("expired", "token expired"), ("wrongAudience", "audience not accepted"), ("wrongIssuer", "issuer not accepted"),
                    ("otherKey", "signature verification failed"), ("unsigned", "unsigned tokens are not accepted"),
                    ("noSubject", "required claim missing"),
                ]
                for (name, description) in refusals {
                    let r = try await s.get("/", headers: Self.bearer(t[name]!))
                    #expect(r.status == 401, "\(name)")
                    #expect(r.header("www-authenticate") == "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"\(description)\"", "\(name)")
                    #expect(r.header("x-upstream") == nil)
                }
                // HS256 keyed with the RSA public key: refused, whatever the verifier tried.
                let confusion = try await s.get("/", headers: Self.bearer(t["confusion"]!))
                #expect(confusion.status == 401 && confusion.header("www-authenticate")?.contains("invalid_token") == true)
                let malformed = try await s.get("/", headers: ["Authorization": "Bearer"])
                #expect(malformed.status == 400, "RFC 6750 §3.1: invalid_request is 400")
                #expect(malformed.header("www-authenticate")?.contains("error=\"invalid_request\"") == true)
                let m = try await AuthTests.metrics(s)
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"tokens\",result=\"ok\"} 3"), "\(m)")
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"tokens\",result=\"expired\"} 1"))
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"tokens\",result=\"alg_none\"} 1"))
            }
        }
    }

    @Test func aKeyRotatedAtTheJWKSServerIsPickedUpOnItsFirstToken() async throws {
        let keys = try await Keys.make()
        defer { keys.remove() }
        let directory = keys.path
        let server = try await offThePool { try PortPrintingProcess(["python3", TestTools.path("jwt_tool.py"), "serve", directory]) }
        defer { server.stop() }
        let t = try await keys.mint([
            ("old", "rsa-1", "RS256", "rsa-1", ["sub": "a"]),
            ("new", "rsa-2", "RS256", "rsa-2", ["sub": "b"]),
        ])
        let jwt = """
            jwks_url: http://127.0.0.1:\(server.port)/jwks.json
            jwks_refresh: 1h
            jwks_min_refresh: 0s
            """
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups, jwt: jwt)) { s in
                // The first fetch happens at start, in the background.
                try await waitUntil(timeout: .seconds(10)) { try await s.get("/", headers: Self.bearer(t["old"]!)).status == 200 }
                #expect(try await s.get("/", headers: Self.bearer(t["new"]!)).status == 401)
                let (code, out) = try await Subprocess.run("python3", [TestTools.path("jwt_tool.py"), "rotate", keys.path])
                #expect(code == 0, "\(out)")
                // An unknown kid asks for an early fetch: the next tokens pass, long before the hourly refresh.
                try await waitUntil(timeout: .seconds(10)) { try await s.get("/", headers: Self.bearer(t["new"]!)).status == 200 }
                #expect(try await s.get("/", headers: Self.bearer(t["old"]!)).status == 401, "the retired key is gone")
            }
        }
    }

    @Test func jwtConfigurationErrorsSayWhatToWrite() {
        func errors(_ jwt: String) -> [String] {
            configErrors("auth:\n  tokens:\n    jwt:\n" + jwt.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
        }
        #expect(errors("issuer: x") == ["test.yaml:4:7: auth.tokens.jwt: has no keys; give keys, jwks_url or both"])
        #expect(errors("keys: [{alg: RS256, secret_env: X}]") == [
            "test.yaml:4:39: auth.tokens.jwt.keys[0].secret_env: RS256 needs a public key: use file (PEM)"
        ])
        #expect(errors("keys: [{alg: HS256, file: /dev/null}]") == [
            "test.yaml:4:33: auth.tokens.jwt.keys[0].file: HS256 needs a shared secret: use secret_env or secret_file"
        ])
        #expect(errors("keys: [{alg: none, secret_env: X}]").first?.contains("'none' is not allowed") == true)
        #expect(errors("jwks_url: ftp://x/keys") == [
            "test.yaml:4:17: auth.tokens.jwt.jwks_url: 'ftp://x/keys' is not an http(s) URL"
        ])
    }
}
