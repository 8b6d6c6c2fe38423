import Foundation
import Testing

/// The session gate with cookies sealed the way an application's login would seal them (Python's `cryptography`
/// AES-GCM, `Tests/tools/jwt_tool.py cookie`): pages redirect to the login with their target, APIs get 401, a
/// rotated key still opens old cookies, and a tampered or moved cookie is refused.
@Suite struct SessionGateTests {
    static let key = "q2Vd7m3y0cXo8m6Qm1h1d4l0v8wq2Yt9GJvE1kZ5f3A="
    static let previousKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

    static func cookie(key: String = key, name: String = "sid", user: String, expires: Int) async throws -> String {
        let (code, out) = try await Subprocess.run("python3", [TestTools.path("jwt_tool.py"), "cookie", key, name, user, String(expires)])
        guard code == 0 else { throw TestError("jwt_tool.py cookie: \(out)") }
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func config(_ upstreams: [TestUpstream], keyFile: String, previousFile: String) -> String {
        """
        upstreams:
          - name: app
            endpoints: [\(upstreams.map(\.address).joined(separator: ", "))]
        auth:
          app:
            session: {cookie: sid, key_file: \(keyFile), previous_key_file: \(previousFile), login_url: /login}
        hosts:
          - default: true
            routes:
              - match: {prefix: /login}
                respond: {status: 200, body: "log in here"}
              - match: {prefix: /account/}
                proxy: app
                auth: app
        """
    }

    @Test func pagesGoToTheLoginAndAPIsGet401() async throws {
        let now = Int(Date().timeIntervalSince1970)
        let valid = try await Self.cookie(user: "alice", expires: now + 600)
        let old = try await Self.cookie(key: Self.previousKey, user: "bob", expires: now + 600)
        let expired = try await Self.cookie(user: "alice", expires: now - 5)
        let otherName = try await Self.cookie(name: "other", user: "alice", expires: now + 600)
        try await withUpstreams(1) { ups in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-session-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let keyFile = dir.appendingPathComponent("key").path
            let previousFile = dir.appendingPathComponent("previous").path
            try Data((Self.key + "\n").utf8).write(to: URL(fileURLWithPath: keyFile))
            try Data(Self.previousKey.utf8).write(to: URL(fileURLWithPath: previousFile))
            try await withTestServer(Self.config(ups, keyFile: keyFile, previousFile: previousFile)) { s in
                let page = try await s.get("/account/orders?page=2", headers: ["Accept": "text/html,application/xhtml+xml"])
                #expect(page.status == 302)
                #expect(page.header("location") == "/login?next=/account/orders%3Fpage%3D2")
                let api = try await s.get("/account/orders", headers: ["Accept": "application/json"])
                #expect(api.status == 401 && api.header("www-authenticate") == "Cookie realm=\"app\", cookie-name=\"sid\"")
                let ok = try await s.get("/account/orders", headers: ["Cookie": "theme=dark; sid=\(valid)", "X-User": "root"])
                #expect(ok.status == 200 && ok.text.contains("x-user: alice\n") && !ok.text.contains("x-user: root"), "\(ok.text)")
                let rotated = try await s.get("/account/", headers: ["Cookie": "sid=\(old)"])
                #expect(rotated.status == 200 && rotated.text.contains("x-user: bob\n"), "a cookie sealed with the previous key still opens")
                #expect(try await s.get("/account/", headers: ["Cookie": "sid=\(expired)"]).status == 401)
                #expect(try await s.get("/account/", headers: ["Cookie": "sid=\(otherName)"]).status == 401, "sealed for another cookie")
                var tampered = Array(valid.utf8)
                tampered[tampered.count - 5] = tampered[tampered.count - 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
                #expect(try await s.get("/account/", headers: ["Cookie": "sid=\(String(decoding: tampered, as: UTF8.self))"]).status == 401)
                #expect(try await s.get("/login").text == "log in here", "the login page itself is open")
                let m = try await AuthTests.metrics(s)
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"app\",result=\"ok\"} 2"), "\(m)")
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"app\",result=\"expired\"} 1"))
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"app\",result=\"invalid\"} 2"))
                #expect(m.contains("meridian_auth_requests_total{authenticator=\"app\",result=\"missing\"} 2"))
            }
        }
    }

    @Test func sessionConfigurationErrors() {
        let errors = configErrors("auth:\n  app:\n    session: {cookie: sid, login_url: \"javascript:x\"}")
        #expect(errors.contains { $0.contains("auth.app.session.key_env: missing; give key_env") }, "\(errors)")
    }
}
