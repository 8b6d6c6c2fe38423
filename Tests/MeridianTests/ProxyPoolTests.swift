import Foundation
import Testing

/// The pool settings, the timeouts after the head and per try, body replay on a retry, and query
/// routing, each over real sockets.
@Suite struct ProxyPoolTests {
    @Test func poolSettingsBoundConnectionReuse() async throws {
        try await withUpstreams(1) { ups in
            // max_requests_per_connection: 2 → four requests take two connections.
            try await withTestServer(ProxyResilienceTests.yaml(ups, "pool: {max_requests_per_connection: 2}")) { server in
                for _ in 0..<4 { _ = try await server.get("/") }
                #expect(ups[0].connections == 2)
            }
        }
        try await withUpstreams(1) { ups in
            // max_idle: 0 → nothing is kept: every request a new connection.
            try await withTestServer(ProxyResilienceTests.yaml(ups, "pool: {max_idle: 0}")) { server in
                for _ in 0..<3 { _ = try await server.get("/") }
                #expect(ups[0].connections == 3)
            }
        }
        try await withUpstreams(1) { ups in
            // idle_timeout: an idle pooled connection is closed by the proxy.
            try await withTestServer(ProxyResilienceTests.yaml(ups, "pool: {idle_timeout: 200ms}")) { server in
                _ = try await server.get("/")
                let closed = try await eventually(timeout: .seconds(3)) { ups[0].stats.withLockedValue { $0.closedConnections } == 1 }
                #expect(closed)
            }
        }
    }

    @Test func aStalledBodyIsCutAfterTheIdleTimeoutAndASlowTryEndsAtItsTimeout() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(ProxyResilienceTests.yaml(ups, "timeouts: {idle: 300ms}\nretries: {max: 0}")) { server in
                let c = try await server.client()
                try await c.send("GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
                // The head and 10 bytes arrive; then the proxy cuts the response (a close), as the
                // client cannot be told otherwise that 100,000 bytes will not come.
                #expect(await c.waitForClose(timeout: .seconds(5)))
                let text = String(decoding: c.pending, as: UTF8.self)
                #expect(text.hasPrefix("HTTP/1.1 200") && text.hasSuffix("0123456789"))
            }
            try await withTestServer(ProxyResilienceTests.yaml(ups, "retries: {max: 0, per_try_timeout: 300ms}")) { server in
                let started = ContinuousClock.now
                let r = try await server.get("/slow/3000")
                #expect(r.status == 504)
                #expect(started.duration(to: .now) < .seconds(2))
            }
        }
    }

    @Test func aReplayableBodyIsSentAgainOnTheRetry() async throws {
        try await withUpstreams(2) { ups in
            let cluster = "balancing: round_robin\noutlier_detection: {enabled: false}\ncircuit_breaker: {enabled: false}"
            try await withTestServer(ProxyResilienceTests.yaml(ups, cluster)) { server in
                ups[0].failure.withLockedValue { $0 = 0 }  // resets after reading the request
                let c = try await server.client()
                for _ in 0..<2 {
                    try await c.send("PUT /doc HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")
                    let r = try await c.readResponse()
                    #expect(r.status == 200)
                    #expect(r.text.contains("body-bytes: 11"), "the retried PUT carried its whole body")
                }
                await c.close()
                #expect(ups[0].requests >= 1, "one try went to the endpoint that resets")
            }
        }
    }

    @Test func routesMatchOnQueryParameters() async throws {
        let yaml = """
            hosts:
              - default: true
                routes:
                  - match: {prefix: /api/, query: {version: "2"}}
                    respond: {body: "v2\\n"}
                  - match: {prefix: /api/, query: {tenant: {regex: "^acme-[0-9]+$"}}}
                    respond: {body: "acme\\n"}
                  - match: {prefix: /api/, query: {debug: ~}}
                    respond: {body: "debug\\n"}
                  - match: {prefix: /api/}
                    respond: {body: "v1\\n"}
            """
        try await withTestServer(yaml) { server in
            let cases = [
                ("/api/x?version=2", "v2\n"), ("/api/x?version=3", "v1\n"), ("/api/x?tenant=acme-42", "acme\n"),
                ("/api/x?tenant=acme-x", "v1\n"), ("/api/x?a=1&debug", "debug\n"),
                ("/api/x?version=%32", "v2\n"),  // values are compared percent-decoded
            ]
            for (path, expected) in cases {
                let r = try await server.get(path)
                #expect(r.text == expected, "\(path)")
            }
        }
    }
}
