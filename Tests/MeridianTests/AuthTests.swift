import Foundation
import MeridianConfig
import MeridianSecurity
import Testing

/// API keys and basic auth in front of a real upstream: what the client is answered, what the upstream sees
/// (the identity header, never a client's forged copy), and what the metrics count.
@Suite struct AuthTests {
    /// `printf %s k-live-123 | sha256sum`
    static let keyDigest = "25c699432a4cf2384ded3f511ec323cc90b56d5605a7898fd25a6df7d2c295cc"
    /// Python's `bcrypt.hashpw(b"correct horse", bcrypt.gensalt(rounds=4))`.
    static let bcryptHash = "$2b$04$mp.I1f36.Jnm1Z4OqCSSw./5mYoQWcMwjbiHGhfiG8TClCY.VU7Em"

    static func config(_ upstreams: [TestUpstream], auth: String, route: String = "auth: gate") -> String {
        """
        upstreams:
          - name: api
            endpoints: [\(upstreams.map(\.address).joined(separator: ", "))]
        auth:
          gate:
        \(auth.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        hosts:
          - default: true
            routes:
              - match: {prefix: /open}
                proxy: api
              - match: {prefix: /}
                proxy: api
                \(route)
        """
    }

    static func metrics(_ server: TestServer) async throws -> String {
        try await RawClient.exchange(port: server.adminPort!, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").text
    }

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    @Test func apiKeysInAHeaderOrTheQueryNameTheConsumer() async throws {
        let auth = """
            api_key:
              header: X-API-Key
              query: api_key
              keys: [{name: ci, sha256: \(Self.keyDigest)}]
            """
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups, auth: auth)) { s in
                let missing = try await s.get("/x")
                #expect(missing.status == 401)
                #expect(missing.header("www-authenticate") == "ApiKey realm=\"gate\"")
                #expect(missing.header("x-upstream") == nil, "refused here, never forwarded")
                let wrong = try await s.get("/x", headers: ["X-API-Key": "k-live-124"])
                #expect(wrong.status == 401)
                // The client's own X-Consumer is replaced by the key's name.
                let ok = try await s.get("/x", headers: ["X-API-Key": "k-live-123", "X-Consumer": "admin"])
                #expect(ok.status == 200)
                #expect(ok.text.contains("x-consumer: ci\n") && !ok.text.contains("x-consumer: admin"), "\(ok.text)")
                let query = try await s.get("/x?a=1&api_key=k-live-123")
                #expect(query.status == 200)
                let forged = try await s.get("/open", headers: ["X-Consumer": "admin"])
                #expect(forged.status == 200 && forged.text.contains("x-consumer: admin"), "routes without auth are untouched")
                let m = try await Self.metrics(s)
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"gate\",result=\"ok\"} 2"), "\(m)")
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"gate\",result=\"missing\"} 1"))
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"gate\",result=\"invalid\"} 1"))
            }
        }
    }

    @Test func basicAuthChecksBcryptAndArgon2HashesOffTheEventLoop() async throws {
        let argon = PasswordHash.argon2id(Array("s3cret:with:colons".utf8))
        let auth = """
            basic:
              realm: staff area
              users:
                - {name: alice, hash: "\(Self.bcryptHash)"}
                - {name: bob, hash: "\(argon)"}
            """
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups, auth: auth)) { s in
                let missing = try await s.get("/")
                #expect(missing.status == 401)
                #expect(missing.header("www-authenticate") == "Basic realm=\"staff area\", charset=\"UTF-8\"")
                #expect(try await s.get("/", headers: ["Authorization": Self.basic("alice", "wrong")]).status == 401)
                #expect(try await s.get("/", headers: ["Authorization": Self.basic("mallory", "correct horse")]).status == 401)
                #expect(try await s.get("/", headers: ["Authorization": "Basic !!notbase64"]).status == 401)
                for _ in 0..<2 {  // the second is answered from the cache of successes
                    let alice = try await s.get("/", headers: ["Authorization": Self.basic("alice", "correct horse"), "X-User": "root"])
                    #expect(alice.status == 200)
                    #expect(alice.text.contains("x-user: alice\n") && !alice.text.contains("x-user: root"), "\(alice.text)")
                }
                let bob = try await s.get("/", headers: ["Authorization": Self.basic("bob", "s3cret:with:colons")])
                #expect(bob.status == 200 && bob.text.contains("x-user: bob\n"))
                let m = try await Self.metrics(s)
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"gate\",result=\"ok\"} 3"), "\(m)")
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"gate\",result=\"invalid\"} 2"))
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"gate\",result=\"malformed\"} 1"))
            }
        }
    }

    @Test func hashPasswordPrintsAnArgon2idHashThatVerifies() throws {
        let hash = PasswordHash.argon2id(Array("pw".utf8))
        #expect(hash.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        let parsed = try PasswordHash(parsing: hash)
        #expect(parsed.verify(Array("pw".utf8)) && !parsed.verify(Array("pW".utf8)))
    }

    /// The real binary: the password from stdin, the hash on stdout, verified by argon2-cffi; no password is an error.
    @Test func theHashPasswordCommandReadsStdinAndPrintsAHashArgon2CFFIAccepts() async throws {
        let binary = MeridianProcess.binary.path
        let (code, out) = try await Subprocess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "printf 'correct horse\\n' | \"$0\" hash-password", binary])
        #expect(code == 0, "\(out)")
        let hash = try #require(out.split(separator: "\n").last.map(String.init))
        #expect(hash.hasPrefix("$argon2id$v=19$"), "\(out)")
        let check = "import sys; from argon2 import PasswordHasher; PasswordHasher().verify(sys.argv[1], sys.argv[2]); print('ok')"
        let (good, said) = try await Subprocess.run("python3", ["-c", check, hash, "correct horse"])
        #expect(good == 0 && said.contains("ok"), "\(said)")
        let (bad, _) = try await Subprocess.run("python3", ["-c", check, hash, "correct horsE"])
        #expect(bad != 0)
        let (empty, message) = try await Subprocess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "printf '\\n' | \"$0\" hash-password", binary])
        #expect(empty == 1 && message.contains("the password is empty"), "\(message)")
        let (none, nothing) = try await Subprocess.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "\"$0\" hash-password < /dev/null", binary])
        #expect(none == 1 && nothing.contains("no password on stdin"), "\(nothing)")
    }

    @Test func authConfigurationErrorsSayWhatToWrite() {
        func errors(_ auth: String, route: String = "auth: gate") -> [String] {
            configErrors(
                """
                auth:
                  gate:
                \(auth.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /}
                        respond: {status: 200}
                        \(route)
                """
            )
        }
        #expect(errors("api_key: {keys: [{name: a, sha256: abc}]}") == [
            "test.yaml:3:40: auth.gate.api_key.keys[0].sha256: is not a SHA-256 digest (64 hex digits); make one with: printf %s \"$KEY\" | sha256sum"
        ])
        #expect(errors("basic: {users: [{name: a, hash: plain}]}") == [
            "test.yaml:3:37: auth.gate.basic.users[0].hash: a value not starting with \"$\" (a plain-text password?) is not an accepted password hash; use bcrypt ($2a$, $2b$ or $2y$) or argon2id/argon2i ($argon2id$v=19$m=…,t=…,p=…$salt$hash): run \"meridian hash-password\" to make one"
        ])
        #expect(errors("basic: {users: [{name: a, hash: \"$2b$20$mp.I1f36.Jnm1Z4OqCSSw./5mYoQWcMwjbiHGhfiG8TClCY.VU7Em\"}]}") == [
            "test.yaml:3:37: auth.gate.basic.users[0].hash: password hash too costly to verify: bcrypt cost 20 is above 16: each step doubles the work, so cost 20 is 1024× cost 10 and every login would take seconds (cost 10–12 is usual); replace it with a cheaper hash: run \"meridian hash-password\" to make one"
        ])
        #expect(errors("basic: {users: [{name: a, hash: \"$1$abc$def\"}]}").first?.contains("md5-crypt ($1$) is not an accepted password hash") == true)
        #expect(errors("api_key: {keys: [{name: a, sha256: \(Self.keyDigest)}]}", route: "auth: other") == [
            "test.yaml:9:15: hosts[0].routes[0].auth: 'other' is not an authenticator (known: gate)"
        ])
        #expect(errors("api_key: {}\n  jwt: {}").count >= 1)
    }
}
