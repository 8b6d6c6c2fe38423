import MeridianConfig
import Testing

/// The `upload` action in YAML: every key decodes, and each mistake says where and what to do.
@Suite struct UploadConfigTests {
    func errors(_ yaml: String) -> [String] { configErrors(yaml) }

    @Test func everyKeyDecodes() throws {
        let c = try ConfigLoader.parse(
            yaml: """
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /up/}
                        upload: {root: /srv/up, strip_prefix: /up, max_bytes: 2GiB, overwrite: true, create_directories: true}
                      - match: {prefix: /other/}
                        upload: {root: /srv/other, max_bytes: ~}
                """, source: "test.yaml")
        guard case .upload(let a) = c.hosts[0].routes[0].action, case .upload(let b) = c.hosts[0].routes[1].action else {
            Issue.record("not upload actions")
            return
        }
        #expect(a == Configuration.UploadAction(root: "/srv/up", stripPrefix: "/up", maxBytes: 2 << 30, overwrite: true, createDirectories: true))
        #expect(b == Configuration.UploadAction(root: "/srv/other"))
    }

    @Test(arguments: [
        ("upload: {max_bytes: 1k}", "test.yaml:5:17: hosts[0].routes[0].upload.root: missing"),
        ("upload: {root: /x, max_bytes: lots}", "test.yaml:5:39: hosts[0].routes[0].upload.max_bytes: 'lots' is not a size"),
        ("upload: {root: /x, strip_prefix: up}", "test.yaml:5:42: hosts[0].routes[0].upload.strip_prefix: 'up' must start with /"),
        ("upload: {root: /x, overwrite: maybe}", "test.yaml:5:39: hosts[0].routes[0].upload.overwrite: 'maybe' is not a boolean"),
        ("upload: {root: /x, limit: 1k}", "test.yaml:5:28: hosts[0].routes[0].upload.limit: unknown key"),
    ])
    func mistakesSayWhereAndWhat(_ action: String, _ expected: String) {
        let found = errors("""
            hosts:
              - default: true
                routes:
                  - match: {prefix: /up/}
                    \(action)
            """)
        #expect(found.contains { $0.hasPrefix(expected) }, "\(found)")
    }
}
