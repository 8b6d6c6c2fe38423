import Foundation
import MeridianCore
@testable import MeridianTelemetry
import Testing

/// The proxy's telemetry against real upstreams, a real OTLP receiver and the real Prometheus
/// parsers: CLIENT spans under the SERVER span, the per-endpoint metrics, the status page's
/// upstreams table and the access log's upstream fields.
@Suite struct UpstreamTelemetryTests {
    static func sample(_ m: [String: (type: String, samples: [MetricsParser.Sample])], _ name: String, _ labels: [String: String] = [:]) -> [MetricsParser.Sample] {
        TelemetryTests.sample(m, name, labels)
    }

    static func value(_ m: [String: (type: String, samples: [MetricsParser.Sample])], _ name: String, _ labels: [String: String]) -> Double? {
        let s = sample(m, name, labels)
        return s.count == 1 ? s[0].value : nil
    }

    static func header(_ upstream: TestUpstream, _ name: String) -> String? {
        upstream.stats.withLockedValue { $0.lastHeaders }.first { $0.0.lowercased() == name }?.1
    }

    /// Addresses nothing listens on: bound, noted, closed.
    /// Addresses nothing listens on: low ports (1, 2, ...) no test binds. (Ports a test bound and released were
    /// handed to servers of tests running in parallel, which then answered for a "dead" endpoint.)
    static func deadAddresses(_ n: Int) async throws -> [String] {
        (1...n).map { "127.0.0.1:\($0)" }
    }

    @Test func clientSpanIsTheServerSpansChildAndItsContextGoesUpstream() async throws {
        let receiver = try OTLPReceiver()
        defer { receiver.stop() }
        try await withUpstreams(1) { ups in
            let yaml = """
                telemetry:
                  tracing: {endpoint: "\(receiver.endpoint)", batch_delay: 100ms, ratio: 1}
                  access_log: {path: "{{root}}/access.log"}
                upstreams:
                  - name: api
                    endpoints: [\(ups[0].address)]
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /items/}
                        proxy: api
                """
            try await withTestServer(yaml) { s in
                // Continuing the caller's trace.
                let callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
                let callerSpan = "00f067aa0ba902b7"
                let r = try await s.get("/items/7?sig=secret&x=1", headers: ["traceparent": "00-\(callerTrace)-\(callerSpan)-01", "tracestate": "v=1"])
                #expect(r.status == 200)
                let sent = try #require(Self.header(ups[0], "traceparent").flatMap(TraceContext.parse(traceparent:)))
                #expect(TraceContext.hex(sent.traceIDHigh) + TraceContext.hex(sent.traceIDLow) == callerTrace)
                #expect(sent.sampled)
                #expect(Self.header(ups[0], "tracestate") == "v=1")
                let clientID = TraceContext.hex(sent.spanID)
                let client = try await receiver.waitForSpan { ($0["span_id"] as? String) == clientID }
                #expect(client["kind"] as? String == "CLIENT")
                #expect(client["name"] as? String == "GET")
                #expect(client["trace_id"] as? String == callerTrace)
                let serverID = try #require(client["parent_span_id"] as? String)
                let server = try await receiver.waitForSpan { ($0["span_id"] as? String) == serverID }
                #expect(server["kind"] as? String == "SERVER")
                #expect(server["name"] as? String == "GET /items/")
                #expect(server["trace_id"] as? String == callerTrace)
                #expect(server["parent_span_id"] as? String == callerSpan)
                #expect(serverID != clientID && serverID != callerSpan)
                let a = try #require(client["attributes"] as? [String: Any])
                #expect(a["http.request.method"] as? String == "GET")
                #expect(a["server.address"] as? String == "127.0.0.1")
                #expect(a["server.port"] as? Int == ups[0].port)
                #expect(a["url.full"] as? String == "http://\(ups[0].address)/items/7?sig=REDACTED&x=1")
                #expect(a["http.response.status_code"] as? Int == 200)
                #expect(a["meridian.upstream.cluster"] as? String == "api")
                #expect(a["http.request.resend_count"] == nil)
                #expect(a["error.type"] == nil)
                #expect(client["status"] as? String == "UNSET")
                // The CLIENT span lies within the SERVER span.
                let (cs, ce, ss, se) = (client["start_ns"] as? Int ?? 0, client["end_ns"] as? Int ?? 0, server["start_ns"] as? Int ?? 0, server["end_ns"] as? Int ?? 0)
                #expect(ss <= cs && cs <= ce && ce <= se)
                let serverAttributes = try #require(server["attributes"] as? [String: Any])
                #expect(serverAttributes["meridian.upstream_status"] as? Int == 200)
                #expect(serverAttributes["meridian.upstream_addr"] as? String == ups[0].address)
                #expect(serverAttributes["meridian.upstream_connect_ms"] is Double)

                // A new trace: its id is the one swift-otel gave the SERVER span, upstream too.
                #expect(try await s.get("/items/new").status == 200)
                let fresh = try #require(Self.header(ups[0], "traceparent").flatMap(TraceContext.parse(traceparent:)))
                let freshTrace = TraceContext.hex(fresh.traceIDHigh) + TraceContext.hex(fresh.traceIDLow)
                let freshClient = try await receiver.waitForSpan { ($0["span_id"] as? String) == TraceContext.hex(fresh.spanID) }
                #expect(freshClient["trace_id"] as? String == freshTrace)
                let freshServerID = try #require(freshClient["parent_span_id"] as? String)
                let freshServer = try await receiver.waitForSpan { ($0["span_id"] as? String) == freshServerID }
                #expect(freshServer["kind"] as? String == "SERVER")
                #expect(freshServer["trace_id"] as? String == freshTrace)
                #expect(freshServer["parent_span_id"] as? String == "")

                // The access log names the SERVER span of both.
                let log = try await TelemetryTests.waitForLines(s.directory.appendingPathComponent("access.log"), count: 2)
                #expect(log.contains { $0["trace_id"] as? String == callerTrace && $0["span_id"] as? String == serverID })
                #expect(log.contains { $0["trace_id"] as? String == freshTrace && $0["span_id"] as? String == freshServerID })

                // A try's latency exemplar names its CLIENT span (each bucket keeps its latest).
                let m = try await s.metrics(openMetrics: true)
                let exemplars = Self.sample(m, "meridian_upstream_request_duration_seconds_bucket", ["cluster": "api"]).compactMap(\.exemplar)
                let ids = exemplars.compactMap { $0["labels"] as? [String: String] }.map { [$0["trace_id"] ?? "", $0["span_id"] ?? ""] }
                #expect(!ids.isEmpty)
                #expect(ids.allSatisfy { $0 == [callerTrace, clientID] || $0 == [freshTrace, TraceContext.hex(fresh.spanID)] }, "\(ids)")

                // A caller that did not sample: no span, but the upstream continues the trace unsampled.
                let unsampled = "33333333333333333333333333333333"
                #expect(try await s.get("/items/quiet", headers: ["traceparent": "00-\(unsampled)-4444444444444444-00"]).status == 200)
                let quiet = try #require(Self.header(ups[0], "traceparent"))
                #expect(quiet.hasPrefix("00-\(unsampled)-") && quiet.hasSuffix("-00"))
                #expect(!quiet.contains("4444444444444444"))
                // This sleep is the subject of the check: six batch periods in which a wrongly
                // recorded span would have arrived.
                try await Task.sleep(for: .milliseconds(600))
                #expect(!receiver.spans().contains { ($0["trace_id"] as? String) == unsampled })
            }
        }
    }

    @Test func eachTryIsAClientSpanAndRetriesCountResends() async throws {
        let receiver = try OTLPReceiver()
        defer { receiver.stop() }
        try await withUpstreams(2) { ups in
            let yaml = """
                telemetry:
                  tracing: {endpoint: "\(receiver.endpoint)", batch_delay: 100ms, ratio: 1}
                upstreams:
                  - name: api
                    endpoints: [\(ups[0].address), \(ups[1].address)]
                    retries: {max: 1, on: [5xx]}
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /}
                        proxy: api
                """
            try await withTestServer(yaml) { s in
                let r = try await s.get("/status/503")
                #expect(r.status == 503)
                let server = try await receiver.waitForSpan { ($0["kind"] as? String) == "SERVER" }
                let trace = try #require(server["trace_id"] as? String)
                #expect(try await eventually { receiver.spans().filter { ($0["kind"] as? String) == "CLIENT" }.count == 2 })
                let clients = receiver.spans().filter { ($0["kind"] as? String) == "CLIENT" }
                for c in clients {
                    #expect(c["trace_id"] as? String == trace)
                    #expect(c["parent_span_id"] as? String == server["span_id"] as? String)
                    #expect(c["status"] as? String == "ERROR")
                    let a = c["attributes"] as? [String: Any] ?? [:]
                    #expect(a["error.type"] as? String == "503")
                    #expect(a["http.response.status_code"] as? Int == 503)
                }
                let resends = clients.map { ($0["attributes"] as? [String: Any])?["http.request.resend_count"] as? Int }
                #expect(resends.contains { $0 == nil } && resends.contains { $0 == 1 })
                let ports = Set(clients.compactMap { ($0["attributes"] as? [String: Any])?["server.port"] as? Int })
                #expect(ports == Set(ups.map(\.port)))

                let m = try await s.metrics()
                #expect(Self.value(m, "meridian_upstream_retries_total", ["cluster": "api"]) == 1)
                for u in ups {
                    #expect(Self.value(m, "meridian_upstream_requests_total", ["cluster": "api", "endpoint": u.address, "status_class": "5xx"]) == 1)
                }
            }
        }
    }

    @Test func perEndpointMetricsParseInBothFormatsAndFeedTheStatusPage() async throws {
        let dead = try await Self.deadAddresses(2)
        try await withUpstreams(2) { ups in
            let yaml = """
                upstreams:
                  - name: api
                    endpoints: [\(ups[0].address)]
                    retries: {max: 0}
                  - name: spare
                    endpoints: [\(ups[1].address)]
                  - name: flaky
                    endpoints: [\(dead[0])]
                    retries: {max: 0}
                    circuit_breaker: {minimum_requests: 2, failure_ratio: 0.5, open_for: 60s}
                    outlier_detection: {enabled: false}
                  - name: eject
                    endpoints: [\(dead[0]), \(dead[1])]
                    retries: {max: 0}
                    circuit_breaker: {enabled: false}
                    outlier_detection: {consecutive_gateway_failures: 1, base_ejection: 60s}
                  - name: budget
                    endpoints: [\(dead[0]), \(dead[1])]
                    retries: {max: 1, budget_percent: 0, min_concurrency: 0}
                    circuit_breaker: {enabled: false}
                    outlier_detection: {enabled: false}
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /flaky/}
                        proxy: flaky
                      - match: {prefix: /eject/}
                        proxy: eject
                      - match: {prefix: /budget/}
                        proxy: budget
                      - match: {prefix: /}
                        proxy: api
                """
            try await withTestServer(yaml) { s in
                // Before any traffic, every configured endpoint is there at zero.
                let before = try await s.metrics()
                #expect(Self.value(before, "meridian_upstream_requests_total", ["cluster": "spare", "endpoint": ups[1].address, "status_class": "error"]) == 0)
                #expect(Self.value(before, "meridian_breaker_transitions_total", ["cluster": "api", "endpoint": ups[0].address, "scope": "local", "to": "open"]) == 0)
                #expect(Self.value(before, "meridian_upstream_retry_budget_exhausted_total", ["cluster": "budget"]) == 0)

                for _ in 0..<3 { #expect(try await s.get("/echo/abc-123").status == 200) }
                #expect(try await s.get("/status/404").status == 404)
                #expect(try await s.get("/status/503").status == 503)
                for _ in 0..<2 { #expect(try await s.get("/flaky/x").status == 502) }
                #expect(try await s.get("/flaky/x").status == 503)  // the breaker is open
                #expect(try await s.get("/eject/x").status == 502)  // one endpoint of two ejected
                #expect(try await s.get("/budget/x").status == 502)

                let raw = try await s.admin("/metrics")
                #expect(!raw.text.contains("abc-123") && !raw.text.contains("/echo"), "labels never carry paths")
                for openMetrics in [false, true] {
                    let m = try await s.metrics(openMetrics: openMetrics)
                    let api = ["cluster": "api", "endpoint": ups[0].address]
                    #expect(m["meridian_upstream_request_duration_seconds"]?.type == "histogram")
                    #expect(Self.value(m, "meridian_upstream_requests_total", api.merging(["status_class": "2xx"]) { $1 }) == 3)
                    #expect(Self.value(m, "meridian_upstream_requests_total", api.merging(["status_class": "4xx"]) { $1 }) == 1)
                    #expect(Self.value(m, "meridian_upstream_requests_total", api.merging(["status_class": "5xx"]) { $1 }) == 1)
                    #expect(Self.value(m, "meridian_upstream_requests_total", api.merging(["status_class": "error"]) { $1 }) == 0)
                    #expect(Self.value(m, "meridian_upstream_request_duration_seconds_count", api) == 5)
                    #expect(Self.value(m, "meridian_upstream_request_duration_seconds_bucket", api.merging(["le": "+Inf"]) { $1 }) == 5)
                    #expect((Self.value(m, "meridian_upstream_request_duration_seconds_sum", api) ?? 0) > 0)
                    #expect(Self.value(m, "meridian_upstream_active_requests", api) == 0)
                    #expect(Self.value(m, "meridian_upstream_connections", api.merging(["state": "idle"]) { $1 }) ?? 0 >= 1)
                    #expect(Self.value(m, "meridian_upstream_connections", api.merging(["state": "active"]) { $1 }) == 0)
                    #expect(Self.value(m, "meridian_upstream_healthy", api) == 1)
                    #expect(Self.value(m, "meridian_upstream_ejected", api) == 0)
                    #expect(Self.value(m, "meridian_breaker_state", api.merging(["scope": "local", "state": "closed"]) { $1 }) == 1)
                    #expect(Self.value(m, "meridian_breaker_state", api.merging(["scope": "local", "state": "open"]) { $1 }) == 0)

                    let flaky = ["cluster": "flaky", "endpoint": dead[0]]
                    #expect(Self.value(m, "meridian_upstream_requests_total", flaky.merging(["status_class": "error"]) { $1 }) == 2)
                    #expect(Self.value(m, "meridian_breaker_transitions_total", flaky.merging(["scope": "local", "to": "open"]) { $1 }) == 1)
                    #expect(Self.value(m, "meridian_breaker_state", flaky.merging(["scope": "local", "state": "open"]) { $1 }) == 1)
                    #expect(Self.value(m, "meridian_breaker_state", flaky.merging(["scope": "local", "state": "closed"]) { $1 }) == 0)

                    let eject = ["cluster": "eject"]
                    #expect(Self.sample(m, "meridian_upstream_ejections_total", eject).map(\.value).sorted() == [0, 1])
                    #expect(Self.sample(m, "meridian_upstream_ejected", eject).map(\.value).sorted() == [0, 1])
                    #expect(Self.sample(m, "meridian_upstream_requests_total", eject.merging(["status_class": "error"]) { $1 }).map(\.value).reduce(0, +) == 1)

                    #expect(Self.value(m, "meridian_upstream_retry_budget_exhausted_total", ["cluster": "budget"]) == 1)
                    #expect(Self.value(m, "meridian_upstream_retries_total", ["cluster": "budget"]) == 0)
                    #expect(Self.value(m, "meridian_upstream_request_duration_seconds_count", ["cluster": "spare", "endpoint": ups[1].address]) == 0)
                }

                // The status page's upstreams table: every configured endpoint, with its tries.
                var rows: [[String: Any]] = []
                _ = try await eventually(every: .milliseconds(100)) {
                    let r = try await s.admin("/status.json")
                    let doc = (try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]) ?? [:]
                    rows = doc["upstreams"] as? [[String: Any]] ?? []
                    return rows.contains { $0["cluster"] as? String == "api" && $0["requests"] as? Int == 5 }
                }
                #expect(rows.count == 7)
                let api = try #require(rows.first { $0["cluster"] as? String == "api" })
                #expect(api["endpoint"] as? String == ups[0].address)
                #expect(api["healthy"] as? Bool == true && api["ejected"] as? Bool == false)
                #expect(api["breaker"] as? String == "closed")
                #expect(api["active"] as? Int == 0)
                #expect(api["errors"] as? Int == 1)
                let pool = try #require(api["connections"] as? [String: Int])
                #expect(pool["idle"] ?? 0 >= 1 && pool["active"] == 0)
                #expect((api["latency_ms"] as? [String: Any])?["p99"] is Double)
                #expect(rows.contains { $0["cluster"] as? String == "flaky" && $0["breaker"] as? String == "open" && $0["errors"] as? Int == 2 })
                #expect(rows.contains { $0["cluster"] as? String == "eject" && $0["ejected"] as? Bool == true })
                #expect(rows.contains { $0["cluster"] as? String == "spare" && $0["requests"] as? Int == 0 })
                let page = try await s.admin("/status")
                #expect(page.text.contains("data-ejected") && page.text.contains(">Conns<"))
            }
        }
    }

    @Test func accessLogLinesCarryTheUpstreamFields() async throws {
        let dead = try await Self.deadAddresses(1)
        try await withUpstreams(1) { ups in
            let clusters = """
                upstreams:
                  - name: api
                    endpoints: [\(ups[0].address)]
                  - name: gone
                    endpoints: [\(dead[0])]
                    retries: {max: 0}
                hosts:
                  - default: true
                    routes:
                      - match: {prefix: /gone/}
                        proxy: gone
                      - match: {prefix: /}
                        proxy: api
                """
            try await withTestServer(clusters + "\ntelemetry: {access_log: {path: \"{{root}}/access.log\"}}\n") { s in
                #expect(try await s.get("/echo").status == 200)
                #expect(try await s.get("/gone/x").status == 502)
                let lines = try await TelemetryTests.waitForLines(s.directory.appendingPathComponent("access.log"), count: 2)
                let ok = try #require(lines.first { $0["status"] as? Int == 200 })
                #expect(ok["upstream_addr"] as? String == ups[0].address)
                #expect(ok["upstream_status"] as? Int == 200)
                #expect(ok["upstream_tries"] as? Int == 1)
                #expect(ok["upstream_cluster"] as? String == "api")
                #expect((ok["upstream_connect_ms"] as? Double ?? -1) >= 0, "a number, not a string")
                #expect((ok["upstream_response_ms"] as? Double ?? -1) >= 0)
                #expect(ok["upstream_error"] == nil)
                let failed = try #require(lines.first { $0["status"] as? Int == 502 })
                #expect(failed["upstream_error"] as? String == "connect_failure")
                #expect(failed["upstream_addr"] as? String == dead[0])
                #expect(failed["upstream_tries"] as? Int == 1)
                #expect(failed["upstream_status"] == nil)
            }
        }
    }
}

/// The observer's pure parts.
@Suite struct UpstreamTelemetryUnitTests {
    @Test func statusClassesAndErrorTypes() {
        #expect(UpstreamMetrics.statusClass(200) == 1)
        #expect(UpstreamMetrics.statusClass(404) == 3)
        #expect(UpstreamMetrics.statusClass(503) == 4)
        #expect(UpstreamMetrics.statusClass(nil) == 5)
        #expect(UpstreamMetrics.statusClasses[UpstreamMetrics.statusClass(nil)] == "error")
        #expect(UpstreamTelemetry.errorType(status: 200, error: nil) == nil)
        #expect(UpstreamTelemetry.errorType(status: 404, error: nil) == "404")
        #expect(UpstreamTelemetry.errorType(status: 503, error: "connect_failure") == "503", "a status wins over an earlier try's code")
        #expect(UpstreamTelemetry.errorType(status: 200, error: "reset") == "reset", "a response cut short")
        #expect(UpstreamTelemetry.errorType(status: nil, error: "timeout") == "timeout")
        #expect(UpstreamTelemetry.errorType(status: nil, error: nil) == "_OTHER")
    }

    @Test func aTrysStateFitsTheTokenWithoutABox() {
        // Three words: `any Sendable` holds it inline, so an unsampled try allocates no box.
        #expect(MemoryLayout<UpstreamTelemetry.TryState>.size <= 3 * MemoryLayout<Int>.size)
    }

    @Test func handlesAreSharedAcrossThreadsAndCountedOnce() async {
        let metrics = UpstreamMetrics()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<1000 {
                        metrics.endpoint(cluster: "api", endpoint: "10.0.0.1:80").record(statusClass: 1, nanoseconds: 1_000_000, exemplar: nil)
                    }
                }
            }
        }
        let all = metrics.allEndpoints()
        #expect(all.count == 1)
        let s = all[0].snapshot()
        #expect(s.requests[1] == 4000 && s.count == 4000)
        #expect(abs(s.sum - 4) < 1e-9)
        #expect(s.buckets[RequestMetrics.bucketIndex(0.001)] == 4000)
    }
}
