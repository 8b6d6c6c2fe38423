import Foundation
import MeridianConfig
import MeridianCore
@testable import MeridianTelemetry
import Testing

/// Metrics, traces, the access log and the status page, checked with real parsers and a real
/// OTLP receiver.
@Suite struct TelemetryTests {
    static let routes = """
        hosts:
          - default: true
            routes:
              - match: {path: /files/*}
                static: {root: "{{root}}"}
              - match: {path: /boom}
                respond: {status: 503, body: "down\\n"}
              - match: {path: /}
                respond: {status: 200, body: "home\\n"}
        """

    static func sample(_ families: [String: (type: String, samples: [MetricsParser.Sample])], _ name: String, _ labels: [String: String] = [:]) -> [MetricsParser.Sample] {
        families.values.flatMap(\.samples).filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
    }

    @Test func metricsUseRoutePatternsAndParseInBothFormats() async throws {
        try await withTestServer(Self.routes, files: ["files/abc123.txt": "x"]) { s in
            for _ in 0..<3 { #expect(try await s.get("/files/abc123.txt").status == 200) }
            #expect(try await s.get("/files/missing-7f3a").status == 404)
            #expect(try await s.get("/boom").status == 503)
            #expect(try await s.get("/", method: "POST").status == 200)

            let raw = try await s.admin("/metrics")
            #expect(raw.header("content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
            // Metric labels carry route patterns, never the path a client sent.
            #expect(!raw.text.contains("abc123") && !raw.text.contains("missing-7f3a"))

            for openMetrics in [false, true] {
                let m = try await s.metrics(openMetrics: openMetrics)
                #expect(m["http_server_request_duration_seconds"]?.type == "histogram")
                let count = Self.sample(m, "http_server_request_duration_seconds_count", ["http_route": "/files/*", "http_response_status_code": "200", "http_request_method": "GET", "network_protocol_version": "1.1"])
                #expect(count.first?.value == 3)
                #expect(Self.sample(m, "http_server_request_duration_seconds_count", ["http_route": "/files/*", "http_response_status_code": "404"]).first?.value == 1)
                #expect(Self.sample(m, "http_server_request_duration_seconds_count", ["http_route": "/boom", "http_response_status_code": "503"]).first?.value == 1)
                #expect(Self.sample(m, "http_server_request_duration_seconds_count", ["http_route": "/", "http_request_method": "POST"]).first?.value == 1)
                let inf = Self.sample(m, "http_server_request_duration_seconds_bucket", ["http_route": "/files/*", "http_response_status_code": "200", "le": "+Inf"])
                #expect(inf.first?.value == 3)
                #expect(Self.sample(m, "http_server_response_body_bytes_total", ["http_route": "/files/*"]).first?.value ?? 0 >= 3)
                #expect(Self.sample(m, "meridian_connections_accepted_total").first?.value ?? 0 >= 6)
                #expect(Self.sample(m, "meridian_connections_total", ["protocol": "http1"]).first?.value ?? 0 >= 6)
                #expect(Self.sample(m, "meridian_build_info").first?.labels["version"] == "0.1.0")
                #expect(Self.sample(m, "process_resident_memory_bytes").first?.value ?? 0 > 1_000_000)
                #expect(Self.sample(m, "meridian_config_generation").first?.value == 1)
                // Counters of rare events exist at zero from the start, so dashboards never show "no data".
                #expect(Self.sample(m, "meridian_requests_rejected_total", ["http_response_status_code": "431"]).first?.value == 0)
                #expect(Self.sample(m, "meridian_timeouts_total", ["kind": "idle"]).count == 1)
                #expect(Self.sample(m, "meridian_tracing_spans_dropped_total", ["reason": "export_failed"]).first?.value == 0)
            }
        }
    }

    @Test func rejectedRequestsReloadsAndOpenMetricsNegotiation() async throws {
        try await withTestServer(Self.routes) { s in
            let c = try await s.client()
            try await c.send("GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")
            #expect(try await c.readResponse().status == 400)
            await c.close()
            try Data("listeners: [nope".utf8).write(to: s.directory.appendingPathComponent("meridian.yaml"))
            #expect(!s.app.reload().applied)
            let om = try await s.admin("/metrics", headers: ["Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"])
            #expect(om.header("content-type")?.hasPrefix("application/openmetrics-text") == true)
            #expect(om.text.hasSuffix("# EOF\n"))
            let m = try await MetricsParser.parse(om.text, openMetrics: true)
            #expect(Self.sample(m, "meridian_requests_rejected_total", ["http_response_status_code": "400"]).first?.value == 1)
            #expect(Self.sample(m, "meridian_config_reloads_total", ["result": "failure"]).first?.value == 1)
            #expect(Self.sample(m, "meridian_config_reloads_total", ["result": "success"]).first?.value == 0)
            // Scrapes and probes on the admin listener are not counted as traffic.
            #expect(Self.sample(m, "meridian_connections_accepted_total").first?.value == 1)
        }
    }

    @Test func spansFollowSemanticConventionsAndContinueTraceparent() async throws {
        let receiver = try OTLPReceiver()
        defer { receiver.stop() }
        try await withTestServer(
            Self.routes + """

            telemetry:
              service_name: edge-test
              resource_attributes: {deployment.environment: test}
              tracing: {endpoint: "\(receiver.endpoint)", batch_delay: 100ms, sampler: parentbased_traceidratio, ratio: 1}
            """, files: ["files/a.txt": "hello"]) { s in

            let parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
            let parentSpan = "00f067aa0ba902b7"
            let r = try await s.get(
                "/files/a.txt?x=1",
                headers: ["traceparent": "00-\(parentTrace)-\(parentSpan)-01", "tracestate": "vendor=abc", "User-Agent": "trace-test/1.0"]
            )
            #expect(r.status == 200)
            let span = try await receiver.waitForSpan { ($0["trace_id"] as? String) == parentTrace }
            #expect(span["name"] as? String == "GET /files/*")
            #expect(span["kind"] as? String == "SERVER")
            #expect(span["parent_span_id"] as? String == parentSpan)
            #expect((span["trace_state"] as? String)?.contains("vendor=abc") == true)
            let a = try #require(span["attributes"] as? [String: Any])
            #expect(a["http.request.method"] as? String == "GET")
            #expect(a["url.path"] as? String == "/files/a.txt")
            #expect(a["url.query"] as? String == "x=1")
            #expect(a["url.scheme"] as? String == "http")
            #expect(a["http.route"] as? String == "/files/*")
            #expect(a["http.response.status_code"] as? Int == 200)
            #expect(a["server.address"] as? String == "localhost")
            #expect(a["client.address"] as? String == "127.0.0.1")
            #expect(a["network.protocol.version"] as? String == "1.1")
            #expect(a["user_agent.original"] as? String == "trace-test/1.0")
            #expect(a["error.type"] == nil)
            let resource = try #require(span["resource"] as? [String: Any])
            #expect(resource["service.name"] as? String == "edge-test")
            #expect(resource["service.version"] as? String == "0.1.0")
            #expect((resource["service.instance.id"] as? String)?.count == 16)
            #expect(resource["host.name"] != nil)
            #expect(resource["deployment.environment"] as? String == "test")

            // A later traceparent version and a tracestate the W3C grammar refuses: the trace is still
            // continued (the tracer gets a canonical version-00 value), the tracestate is dropped.
            let laterTrace = "5bf92f3577b34da6a3ce929d0e0e4736"
            #expect(try await s.get("/", headers: ["traceparent": "01-\(laterTrace)-\(parentSpan)-01-future", "tracestate": "Upper=1"]).status == 200)
            let later = try await receiver.waitForSpan { ($0["trace_id"] as? String) == laterTrace }
            #expect(later["parent_span_id"] as? String == parentSpan)
            #expect(later["trace_state"] as? String == "")

            // A 5xx is an error span; a request without traceparent starts its own trace.
            #expect(try await s.get("/boom").status == 503)
            let failed = try await receiver.waitForSpan { ($0["name"] as? String) == "GET /boom" }
            #expect(failed["status"] as? String == "ERROR")
            #expect((failed["attributes"] as? [String: Any])?["error.type"] as? String == "503")
            #expect(failed["parent_span_id"] as? String == "")
            #expect(failed["trace_id"] as? String != parentTrace)

            // Exemplars on the latency buckets name sampled traces.
            let m = try await s.metrics(openMetrics: true)
            let withExemplar = Self.sample(m, "http_server_request_duration_seconds_bucket", ["http_route": "/files/*"]).compactMap(\.exemplar)
            let ids = withExemplar.compactMap { ($0["labels"] as? [String: String])?["trace_id"] }
            #expect(ids.contains(parentTrace))
            #expect(Self.sample(m, "meridian_tracing_spans_total", ["sampled": "true"]).first?.value == 3)
        }
    }

    @Test func parentBasedSamplingFollowsTheCallerAndRatioZeroRecordsNothing() async throws {
        let receiver = try OTLPReceiver()
        defer { receiver.stop() }
        try await withTestServer(
            Self.routes + """

            telemetry:
              tracing: {endpoint: "\(receiver.endpoint)", batch_delay: 100ms, sampler: parentbased_traceidratio, ratio: 0}
              access_log: {path: "{{root}}/access.log"}
            """) { s in
            let sampledParent = "00-11111111111111111111111111111111-2222222222222222-01"
            let unsampledParent = "00-33333333333333333333333333333333-4444444444444444-00"
            #expect(try await s.get("/", headers: ["traceparent": sampledParent]).status == 200)
            #expect(try await s.get("/", headers: ["traceparent": unsampledParent]).status == 200)
            #expect(try await s.get("/").status == 200)
            #expect(try await s.get("/", headers: ["traceparent": "00-00000000000000000000000000000000-2222222222222222-01"]).status == 200)
            let span = try await receiver.waitForSpan { ($0["trace_id"] as? String) == String(repeating: "1", count: 32) }
            #expect(span["parent_span_id"] as? String == String(repeating: "2", count: 16))
            // Unsampled requests still carry their trace id into the access log (a sampled request's
            // line follows when its span is recorded, so lines are matched by id, not order).
            let log = try await Self.waitForLines(s.directory.appendingPathComponent("access.log"), count: 4)
            // All four requests are recorded. This sleep is the subject of the check, not a wait for
            // something to happen: six batch periods (batch_delay 100ms) in which a span wrongly
            // sampled would have been exported; none may be.
            try await Task.sleep(for: .milliseconds(600))
            #expect(receiver.spans().count == 1)
            let ids = log.compactMap { $0["trace_id"] as? String }
            #expect(ids.count == 4 && Set(ids).count == 4)
            #expect(ids.contains(String(repeating: "1", count: 32)))
            #expect(ids.contains(String(repeating: "3", count: 32)))
            #expect(!ids.contains(String(repeating: "0", count: 32)))
            let sampledLine = log.first { ($0["trace_id"] as? String) == String(repeating: "1", count: 32) }
            #expect(sampledLine?["span_id"] as? String == span["span_id"] as? String)
        }
    }

    @Test func everySampledRequestIsExportedExactlyOnce() async throws {
        // Small batches and many ticks: each span must reach the collector once (swift-otel 1.6's
        // forceFlush re-sends its whole queue, so Meridian must never call it).
        let receiver = try OTLPReceiver()
        defer { receiver.stop() }
        try await withTestServer(
            Self.routes + """

            telemetry:
              tracing: {endpoint: "\(receiver.endpoint)", batch_delay: 20ms, max_batch: 4, max_queue: 64}
            """) { s in
            for _ in 0..<30 { #expect(try await s.get("/").status == 200) }
            #expect(try await eventually(every: .milliseconds(100)) { receiver.spans().count >= 30 })
            // This sleep is the subject of the check, not a wait for something to happen: fifteen
            // batch periods (batch_delay 20ms) in which a span sent twice would arrive again.
            try await Task.sleep(for: .milliseconds(300))
            let ids = receiver.spans().compactMap { $0["span_id"] as? String }
            #expect(ids.count == 30)
            #expect(Set(ids).count == 30)
        }
    }

    @Test func aCollectorThatIsDownCostsOnlyDroppedSpans() async throws {
        // A port nothing listens on: every export fails at once.
        let deadPort = try await withTestServer { $0.port }
        try await withTestServer(
            Self.routes + """

            telemetry:
              tracing: {endpoint: "http://127.0.0.1:\(deadPort)/v1/traces", batch_delay: 50ms, export_timeout: 500ms, ratio: 1}
            """) { s in
            let started = ContinuousClock.now
            for _ in 0..<20 { #expect(try await s.get("/").status == 200) }
            #expect(ContinuousClock.now - started < .seconds(5))
            var dropped = 0.0
            _ = try await eventually(timeout: .seconds(15), every: .milliseconds(200)) {
                dropped = Self.sample(try await s.metrics(), "meridian_tracing_spans_dropped_total", ["reason": "export_failed"]).first?.value ?? 0
                return dropped >= 20
            }
            #expect(dropped == 20)
        }
    }

    @Test func aSlowCollectorFillsTheBoundedQueueAndDropsAreCounted() async throws {
        let receiver = try OTLPReceiver(delay: 3)
        defer { receiver.stop() }
        try await withTestServer(
            Self.routes + """

            telemetry:
              tracing: {endpoint: "\(receiver.endpoint)", batch_delay: 50ms, max_queue: 4, max_batch: 4, export_timeout: 10s, ratio: 1}
            """) { s in
            for _ in 0..<40 { #expect(try await s.get("/").status == 200) }
            var dropped = 0.0
            _ = try await eventually(timeout: .seconds(20), every: .milliseconds(250)) {
                dropped = Self.sample(try await s.metrics(), "meridian_tracing_spans_dropped_total", ["reason": "queue_full"]).first?.value ?? 0
                return dropped > 0
            }
            #expect(dropped > 0)
        }
    }

    static func waitForLines(_ file: URL, count: Int) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + .seconds(10)
        var lines: [[String: Any]] = []
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            lines = text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            if lines.count >= count { return lines }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestError("\(file.lastPathComponent) has \(lines.count) lines, expected \(count)")
    }

    @Test func accessLogLinesCarryTheConfiguredFieldsAndEscapeInput() async throws {
        try await withTestServer(
            Self.routes + """

            telemetry:
              access_log: {path: "{{root}}/access.log", fields: [timestamp, method, path, query, route, status, bytes_out, duration_ms, protocol, user_agent, request_id]}
            """, files: ["files/a.txt": "hello"]) { s in
            #expect(try await s.get("/files/a.txt?q=1", headers: ["User-Agent": "evil\"\\agent", "X-Request-ID": "req-42"]).status == 200)
            #expect(try await s.get("/boom").status == 503)
            let lines = try await Self.waitForLines(s.directory.appendingPathComponent("access.log"), count: 2)
            let first = lines[0]
            #expect(first["method"] as? String == "GET")
            #expect(first["path"] as? String == "/files/a.txt")
            #expect(first["query"] as? String == "q=1")
            #expect(first["route"] as? String == "/files/*")
            #expect(first["status"] as? Int == 200)
            #expect(first["bytes_out"] as? Int == 5)
            #expect(first["protocol"] as? String == "HTTP/1.1")
            #expect(first["user_agent"] as? String == "evil\"\\agent")
            #expect(first["request_id"] as? String == "req-42")
            #expect((first["duration_ms"] as? Double) != nil)
            #expect((first["timestamp"] as? String)?.hasSuffix("Z") == true)
            #expect(first["client_address"] == nil && first["trace_id"] == nil)  // not in the field list
            #expect(lines[1]["status"] as? Int == 503)

            // A request the parser refuses still gets its line, as nginx logs its 400s.
            let c = try await s.client()
            try await c.send("GARBAGE\r\n\r\n")
            #expect(try await c.readResponse().status == 400)
            await c.close()
            let all = try await Self.waitForLines(s.directory.appendingPathComponent("access.log"), count: 3)
            #expect(all[2]["status"] as? Int == 400)
            #expect(all[2]["method"] as? String == "-")
        }
    }

    @Test func statusJSONAndServerSentEvents() async throws {
        try await withTestServer(Self.routes, files: ["files/a.txt": "hello"]) { s in
            for _ in 0..<5 { _ = try await s.get("/files/a.txt") }
            _ = try await s.get("/boom")
            // The status mix and the routes come from a tick taken once a second: wait for the first
            // tick that has all six requests.
            var r = TestResponse(status: 0, headers: [], body: [])
            var doc: [String: Any] = [:]
            _ = try await eventually(every: .milliseconds(100)) {
                r = try await s.admin("/status.json")
                doc = (try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]) ?? [:]
                let mix = (doc["requests"] as? [String: Any])?["status"] as? [String: Int] ?? [:]
                return mix.values.reduce(0, +) >= 6
            }
            #expect(r.status == 200)
            let requests = try #require(doc["requests"] as? [String: Any])
            #expect(requests["total"] as? Int == 6)
            let mix = try #require(requests["status"] as? [String: Int])
            #expect(mix["2xx"] == 5 && mix["5xx"] == 1)
            let routes = try #require(doc["routes"] as? [[String: Any]])
            #expect(routes.contains { $0["route"] as? String == "/files/*" && $0["requests"] as? Int == 5 })
            #expect(routes.contains { $0["route"] as? String == "/boom" && $0["errors"] as? Int == 1 })
            #expect((doc["instance"] as? [String: Any])?["ready"] as? Bool == true)
            #expect(doc["cache"] is NSNull)

            let page = try await s.admin("/status")
            #expect(page.status == 200)
            #expect(page.header("content-type") == "text/html; charset=utf-8")
            #expect(page.header("content-security-policy")?.contains("default-src 'none'") == true)
            #expect(page.text.contains("/status/events") && !page.text.contains("<script src"))

            // Two events over one chunked HTTP/1.1 response, a second apart.
            let events = { (bytes: [UInt8]) in String(decoding: bytes, as: UTF8.self).components(separatedBy: "event: status\ndata: {").count - 1 }
            let c = try await RawClient.connect(port: s.adminPort!)
            try await c.send("GET /status/events HTTP/1.1\r\nHost: a\r\n\r\n")
            let bytes = await c.readUntil(timeout: .seconds(10)) { events($0) >= 2 }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200"))
            #expect(text.lowercased().contains("transfer-encoding: chunked"))
            #expect(text.lowercased().contains("content-type: text/event-stream"))
            #expect(events(bytes) >= 2)
            await c.close()
        }
    }

    @Test func tlsHTTP2RequestsAreCountedByProtocolAndLogged() async throws {
        try await withTLSFixture(extra: "telemetry: {access_log: {path: \"{{root}}/access.log\"}}", files: ["a.txt": "hi"]) { f in
            let (code, out) = try await Subprocess.run("curl", f.curlBase + ["\(f.base)/a.txt"])
            #expect(code == 0 && out == "hi")
            let m = try await f.server.metrics()
            #expect(Self.sample(m, "meridian_connections_total", ["protocol": "http2"]).first?.value == 1)
            #expect(Self.sample(m, "meridian_tls_handshakes_total", ["tls_protocol_version": "1.3"]).first?.value == 1)
            #expect(Self.sample(m, "http_server_request_duration_seconds_count", ["network_protocol_version": "2"]).first?.value == 1)
            let lines = try await Self.waitForLines(f.server.directory.appendingPathComponent("access.log"), count: 1)
            #expect(lines[0]["protocol"] as? String == "HTTP/2")
            #expect(lines[0]["tls_version"] as? String == "1.3")
        }
    }

    @Test func telemetryConfigErrorsNameTheLine() async throws {
        let cases: [(String, String)] = [
            ("telemetry:\n  tracing:\n    ratio: 1.5\n", "3:12"),
            ("telemetry:\n  tracing:\n    sampler: sometimes\n", "3:14"),
            ("telemetry:\n  tracing:\n    endpoint: collector:4318\n", "3:15"),
            ("telemetry:\n  access_log:\n    fields: [status, colour]\n", "3:22"),
            ("telemetry:\n  metrics: {exemplar: true}\n", "2:13"),
        ]
        for (yaml, position) in cases {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml")
            try Data(yaml.utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let (code, out) = try await MeridianProcess.run(["validate", file.path])
            #expect(code == 1, "\(yaml)")
            #expect(out.contains(":\(position)"), "\(yaml) -> \(out)")
        }
    }

    @Test func badOTELEnvironmentStopsStartWithAClearMessage() async throws {
        let (code, out) = try await MeridianProcess.run(
            ["serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"],
            environment: ["OTEL_TRACES_SAMPLER": "sometimes", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"]
        )
        #expect(code == 1)
        #expect(out.contains("OTEL_TRACES_SAMPLER='sometimes' is not supported"))
    }
}

/// Trace-context parsing and sampling: pure functions.
@Suite struct TraceContextTests {
    @Test func traceparentFollowsW3CLevel1() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let p = TraceContext.parse(traceparent: ok)
        #expect(p?.traceIDHigh == 0x4bf9_2f35_77b3_4da6 && p?.traceIDLow == 0xa3ce_929d_0e0e_4736)
        #expect(p?.spanID == 0x00f0_67aa_0ba9_02b7 && p?.sampled == true)
        #expect(TraceContext.parse(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.sampled == false)
        // A later version may append fields after a dash; version 00 may not.
        #expect(TraceContext.parse(traceparent: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra") != nil)
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // 00 with more
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span id
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  // short
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "",
        ] {
            #expect(TraceContext.parse(traceparent: bad) == nil, "\(bad)")
        }
        let t = TraceContext(traceIDHigh: 1, traceIDLow: 2, spanID: 3, sampled: true)
        #expect(t.traceparent() == "00-00000000000000010000000000000002-0000000000000003-01")
        #expect(t.traceparent(spanID: 0xabc) == "00-00000000000000010000000000000002-0000000000000abc-01")
    }

    @Test func samplersFollowTheSpecification() {
        let ratio = TraceSampler(.traceIDRatio, ratio: 0.25)
        var rng = SystemRandomNumberGenerator()
        let n = 100_000
        let hits = (0..<n).filter { _ in ratio.shouldSample(traceIDLow: rng.next(), parentSampled: nil) }.count
        #expect(abs(Double(hits) / Double(n) - 0.25) < 0.01)
        // Not parent-based: the caller's flag does not matter.
        #expect(!TraceSampler(.alwaysOff, ratio: 1).shouldSample(traceIDLow: 0, parentSampled: true))
        let parentBased = TraceSampler(.parentBasedTraceIDRatio, ratio: 0)
        #expect(parentBased.shouldSample(traceIDLow: .max, parentSampled: true))
        #expect(!parentBased.shouldSample(traceIDLow: 0, parentSampled: false))
        #expect(!parentBased.shouldSample(traceIDLow: 0, parentSampled: nil))
        #expect(TraceSampler(.parentBasedAlwaysOn, ratio: 0).shouldSample(traceIDLow: 0, parentSampled: nil))
        #expect(!TraceSampler(.parentBasedAlwaysOn, ratio: 0).shouldSample(traceIDLow: 0, parentSampled: false))
    }

    @Test func tracestateGrammar() {
        #expect(TraceContext.isValidTraceState("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"))
        #expect(TraceContext.isValidTraceState("a=1, ,b=2"))  // empty members are allowed
        #expect(TraceContext.isValidTraceState("tenant1@vendor=x"))
        #expect(!TraceContext.isValidTraceState("Foo=bar"))  // upper-case key
        #expect(!TraceContext.isValidTraceState("a=b=c"))
        #expect(!TraceContext.isValidTraceState("a"))
        #expect(!TraceContext.isValidTraceState("a=" + String(repeating: "x", count: 600)))
        #expect(!TraceContext.isValidTraceState((0..<33).map { "k\($0)=v" }.joined(separator: ",")))
    }
}
