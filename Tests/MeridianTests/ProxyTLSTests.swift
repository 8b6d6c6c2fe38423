import Foundation
import MeridianConfig
import Testing

/// TLS to upstreams: a Meridian with a TLS listener is the upstream (certificates from a test CA
/// made by `openssl`), the proxy verifies its chain and name, sends SNI, and presents a client
/// certificate when the upstream asks for one.
@Suite struct ProxyTLSTests {
    static func upstreamYAML(_ certs: TestCertificates, clientAuth: Bool = false) -> String {
        """
        listeners:
          - name: https
            address: 127.0.0.1:0
            tls:
              certificates:
                - {cert: \(certs.cert("api")), key: \(certs.key("api")), names: [api.internal]}
              unknown_sni: reject
        \(clientAuth ? "      client_auth: {ca: \(certs.caPath), required: true}" : "")
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                respond: {status: 200, body: "secure upstream\\n"}
        """
    }

    static func proxyYAML(port: Int, tls: String) -> String {
        """
        upstreams:
          - name: api
            endpoints: ["localhost:\(port)"]
            retries: {max: 0}
            tls: \(tls)
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                proxy: api
        """
    }

    @Test func verifiesTheUpstreamAndSendsSNI() async throws {
        let certs = try await TestCertificates()
        defer { certs.remove() }
        try await certs.issue("api", dnsNames: ["api.internal"])
        try await withTestServer(Self.upstreamYAML(certs)) { upstream in
            let good = Self.proxyYAML(port: upstream.port, tls: "{server_name: api.internal, ca: \(certs.caPath)}")
            try await withTestServer(good) { proxy in
                let r = try await proxy.get("/x")
                #expect(r.status == 200)
                #expect(r.text == "secure upstream\n")
            }
            // The wrong name, or a CA that did not sign it: refused, 502, nothing passed on.
            let wrongName = Self.proxyYAML(port: upstream.port, tls: "{server_name: other.internal, ca: \(certs.caPath)}")
            try await withTestServer(wrongName) { proxy in
                let status = try await proxy.get("/x").status
                #expect(status == 502)
            }
            let systemRoots = Self.proxyYAML(port: upstream.port, tls: "{server_name: api.internal}")
            try await withTestServer(systemRoots) { proxy in
                let status = try await proxy.get("/x").status
                #expect(status == 502)
            }
            // verify: false accepts it (tests and trusted networks only). The upstream rejects
            // unknown SNI, so every success here also shows the name went out as SNI.
            let unverified = Self.proxyYAML(port: upstream.port, tls: "{server_name: api.internal, verify: false}")
            try await withTestServer(unverified) { proxy in
                let status = try await proxy.get("/x").status
                #expect(status == 200)
            }
        }
    }

    @Test func presentsAClientCertificateWhenTheUpstreamRequiresOne() async throws {
        let certs = try await TestCertificates()
        defer { certs.remove() }
        try await certs.issue("api", dnsNames: ["api.internal"])
        try await certs.issue("proxy", dnsNames: ["proxy.internal"])
        try await withTestServer(Self.upstreamYAML(certs, clientAuth: true)) { upstream in
            let with = Self.proxyYAML(
                port: upstream.port,
                tls: "{server_name: api.internal, ca: \(certs.caPath), certificate: \(certs.cert("proxy")), key: \(certs.key("proxy"))}"
            )
            try await withTestServer(with) { proxy in
                let status = try await proxy.get("/x").status
                #expect(status == 200)
            }
            let without = Self.proxyYAML(port: upstream.port, tls: "{server_name: api.internal, ca: \(certs.caPath)}")
            try await withTestServer(without) { proxy in
                let status = try await proxy.get("/x").status
                #expect(status == 502)
            }
        }
    }

    @Test func tlsMistakesAreConfigErrors() {
        func errors(_ yaml: String) -> String { configErrors(yaml).joined(separator: "\n") }
        let ip = errors("upstreams: [{name: a, endpoints: [10.0.0.1:443], tls: true}]")
        #expect(ip.contains("is an IP address: give the name its certificate carries"))
        let unreadable = errors("upstreams: [{name: a, endpoints: [a.internal:443], tls: {ca: /nonexistent/ca.pem}}]")
        #expect(unreadable.contains("cannot read '/nonexistent/ca.pem'"))
        let half = errors("upstreams: [{name: a, endpoints: [a.internal:443], tls: {certificate: /etc/hostname}}]")
        #expect(half.contains("certificate and key go together"))
    }
}
