import Foundation
import Testing

/// Runs after the suite with `MERIDIAN_LARGE_TESTS=1` (as every CRS-loading suite: loading the rules and inspecting
/// at ~1 ms a request keep both cores busy, and timing tests elsewhere starved).
/// The WAF on a proxied route, over real sockets with real attack payloads: refused with 403 and the request id
/// before the upstream sees them, benign requests and bodies passing whole, detection mode letting through.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_LARGE_TESTS"] == "1")) struct WAFTests {
    static func config(_ upstreams: [TestUpstream], waf: String) -> String {
        """
        upstreams:
          - name: api
            endpoints: [\(upstreams.map(\.address).joined(separator: ", "))]
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                proxy: api
                waf: \(waf)
        """
    }

    static let browser = [
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "Accept-Language": "en-US,en;q=0.5",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    ]

    static func post(_ s: TestServer, _ path: String, type: String, body: String) async throws -> TestResponse {
        let c = try await s.client()
        defer { Task { await c.close() } }
        try await c.send(
            "POST \(path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        )
        return try await c.readResponse()
    }

    @Test func attacksAreRefusedBeforeTheUpstreamAndOrdinaryTrafficPasses() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups, waf: "{mode: blocking, paranoia_level: 1}")) { s in
                let attacks = [
                    "/items?id=1%27%20OR%20%271%27%3D%271", "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/files?name=../../etc/passwd",
                    "/ping?host=127.0.0.1%3Bcat%20%2Fetc%2Fpasswd",
                ]
                for path in attacks {
                    let r = try await s.get(path, headers: Self.browser)
                    #expect(r.status == 403, "\(path)")
                    #expect(r.text.contains("request id \(r.header("x-request-id") ?? "?")"), "\(r.text)")
                }
                let scanner = try await s.get("/", headers: ["User-Agent": "sqlmap/1.7.2#stable (https://sqlmap.org)"])
                #expect(scanner.status == 403)
                let xss = try await Self.post(s, "/comment", type: "application/x-www-form-urlencoded", body: "text=%3Cscript%3Edocument.cookie%3C%2Fscript%3E")
                #expect(xss.status == 403, "an attack in the body")
                #expect(ups[0].requests == 0, "nothing refused reached the upstream")
                for path in ["/", "/index.html", "/api/users/42?sort=name&page=2"] {
                    #expect(try await s.get(path, headers: Self.browser).status == 200, "\(path)")
                }
                let form = try await Self.post(s, "/comment", type: "application/x-www-form-urlencoded", body: "name=Ada+Lovelace&text=Hello%2C+world")
                #expect(form.status == 200 && form.text.contains("body-bytes: 37"), "the inspected body reaches the upstream whole: \(form.text)")
                let json = String(repeating: "{\"id\": 1, \"name\": \"widget\", \"tags\": [\"a\", \"b\"]},", count: 40)
                let big = try await Self.post(s, "/api/items", type: "application/json", body: "[\(json.dropLast())]")
                #expect(big.status == 200 && big.text.contains("body-bytes: \(json.utf8.count + 1)"), "\(big.text)")
                let m = try await AuthTests.metrics(s)
                #expect(m.contains("meridian_waf_requests_total{route=\"/\",result=\"blocked\"} 6"), "\(m)")
                #expect(m.contains("meridian_waf_requests_total{route=\"/\",result=\"passed\"} 5"))
                #expect(m.contains("meridian_waf_rule_matches_total{rule=\"942100\"}") || m.contains("meridian_waf_rule_matches_total{rule=\"942"), "SQL injection rules counted")
            }
        }
    }

    @Test func detectionModeLetsThroughAndRecordsTheRules() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups, waf: "{mode: detection}")) { s in
                let r = try await s.get("/items?id=1%27%20OR%20%271%27%3D%271", headers: Self.browser)
                #expect(r.status == 200)
                #expect(ups[0].requests == 1)
                let m = try await AuthTests.metrics(s)
                #expect(m.contains("meridian_waf_requests_total{route=\"/\",result=\"detected\"} 1"), "\(m)")
            }
        }
    }

    /// A match reaches the trace as a span event with the rule ids (and the access log as the `waf` field).
    @Test func matchesAreSpanEventsOnTheRequestSpan() async throws {
        let receiver = try OTLPReceiver()
        defer { receiver.stop() }
        try await withUpstreams(1) { ups in
            let config = Self.config(ups, waf: "{mode: blocking}") + """

                telemetry:
                  tracing: {endpoint: "\(receiver.endpoint)", batch_delay: 100ms, sampler: parentbased_traceidratio, ratio: 1}
                """
            try await withTestServer(config) { s in
                let r = try await s.get("/items?id=1%27%20OR%20%271%27%3D%271", headers: Self.browser)
                #expect(r.status == 403)
                let id = r.header("x-request-id") ?? "?"
                let span = try await receiver.waitForSpan { ($0["attributes"] as? [String: Any])?["meridian.request_id"] as? String == id }
                let events = span["events"] as? [[String: Any]] ?? []
                let event = try #require(events.first { $0["name"] as? String == "waf.blocked" }, "\(events)")
                let attributes = event["attributes"] as? [String: Any] ?? [:]
                let rules = attributes["meridian.waf.rule_ids"] as? [Any] ?? []
                #expect(rules.contains { "\($0)".hasPrefix("942") }, "the SQL injection rules: \(attributes)")
                #expect((attributes["meridian.waf.anomaly_score"] as? Int ?? 0) >= 5, "\(attributes)")
                #expect(attributes["meridian.waf.mode"] as? String == "blocking")
                #expect(((span["attributes"] as? [String: Any])?["meridian.waf"] as? String)?.hasPrefix("blocked score=") == true)
                // A request without a match has no event.
                let ok = try await s.get("/", headers: Self.browser)
                let okID = ok.header("x-request-id") ?? "?"
                let plain = try await receiver.waitForSpan { ($0["attributes"] as? [String: Any])?["meridian.request_id"] as? String == okID }
                #expect((plain["events"] as? [[String: Any]] ?? []).isEmpty)
            }
        }
    }

    /// The CRS refuses methods and body types outside its lists and some rules misfire for an application: the
    /// lists and rule exclusions are the operator's to set, per route.
    @Test func allowedMethodsContentTypesAndExcludedRules() async throws {
        try await withUpstreams(1) { ups in
            try await withTestServer(Self.config(ups, waf: "on")) { s in
                let put = try await s.get("/api/items/1", headers: Self.browser, method: "PUT")
                #expect(put.status == 403, "the CRS's default methods are GET HEAD POST OPTIONS (911100)")
                let text = try await Self.post(s, "/notes", type: "text/plain", body: "hello")
                #expect(text.status == 403, "text/plain is not in the CRS's content types (920420)")
                let scanner = try await s.get("/", headers: ["User-Agent": "sqlmap/1.7.2#stable (https://sqlmap.org)"])
                #expect(scanner.status == 403)
            }
            let tuned = "{allowed_methods: [GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS], allowed_content_types: [application/json, text/plain], exclude_rules: [913100]}"
            try await withTestServer(Self.config(ups, waf: tuned)) { s in
                for method in ["PUT", "PATCH", "DELETE"] {
                    #expect(try await s.get("/api/items/1", headers: Self.browser, method: method).status == 200, "\(method)")
                }
                let text = try await Self.post(s, "/notes", type: "text/plain", body: "hello")
                #expect(text.status == 200, "\(text.text)")
                let form = try await Self.post(s, "/comment", type: "application/x-www-form-urlencoded", body: "a=b")
                #expect(form.status == 403, "the list replaces the CRS's: urlencoded forms are no longer allowed")
                let scanner = try await s.get("/", headers: ["User-Agent": "sqlmap/1.7.2#stable (https://sqlmap.org)"])
                #expect(scanner.status == 200, "913100 (scanner user agents) is excluded")
                let sqli = try await s.get("/items?id=1%27%20OR%20%271%27%3D%271", headers: Self.browser)
                #expect(sqli.status == 403, "the other rules still apply")
            }
        }
    }

    /// More inspections at once than `max_queue`: blocking mode answers 503 with Retry-After (nothing waits unbounded),
    /// detection mode lets them through uninspected; every request gets an answer.
    @Test func aFullInspectionQueueFailsClosedInBlockingModeAndOpenInDetection() async throws {
        let json = "[" + String(repeating: "{\"id\": 1, \"name\": \"widget\", \"tags\": [\"a\", \"b\"]},", count: 100).dropLast() + "]"
        try await withUpstreams(1) { ups in
            for mode in ["blocking", "detection"] {
                try await withTestServer(Self.config(ups, waf: "{mode: \(mode), max_queue: 1, max_body: 64k}")) { s in
                    let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                        for _ in 0..<40 {
                            group.addTask {
                                let c = try await s.client()
                                defer { Task { await c.close() } }
                                try await c.send("POST /api/items HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json)")
                                let r = try await c.readResponse()
                                return (r.status, r.header("retry-after"))
                            }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                    #expect(statuses.count == 40)
                    let refused = statuses.filter { $0.0 == 503 }
                    if mode == "blocking" {
                        #expect(!refused.isEmpty && refused.allSatisfy { $0.1 == "1" }, "\(statuses)")
                        #expect(statuses.allSatisfy { $0.0 == 200 || $0.0 == 503 }, "\(statuses)")
                    } else {
                        #expect(statuses.allSatisfy { $0.0 == 200 }, "\(statuses)")
                    }
                    let m = try await AuthTests.metrics(s)
                    #expect(!m.contains("meridian_waf_requests_total{route=\"/\",result=\"overloaded\"} 0"), "\(m)")
                }
            }
        }
    }

    @Test func wafConfigurationErrors() {
        let errors = configErrors(
            """
            hosts:
              - default: true
                routes:
                  - match: {prefix: /}
                    respond: {status: 200}
                    waf: {mode: paranoid, paranoia_level: 5, allowed_methods: [get], allowed_content_types: [json], exclude_rules: [abc]}
            """
        )
        #expect(errors.contains { $0.contains("waf.allowed_methods: 'get' is not a method name") }, "\(errors)")
        #expect(errors.contains { $0.contains("waf.allowed_content_types: 'json' is not a media type") }, "\(errors)")
        #expect(errors.contains { $0.contains("waf.exclude_rules") }, "\(errors)")
        #expect(errors.contains { $0.contains("waf.mode: 'paranoid' is not allowed; expected one of: detection, blocking") }, "\(errors)")
        #expect(errors.contains { $0.contains("waf.paranoia_level: 5 is out of range; expected 1...4") }, "\(errors)")
    }
}
