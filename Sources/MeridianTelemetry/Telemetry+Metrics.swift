internal import Foundation
internal import MeridianCore

extension Telemetry {
    // MARK: - /metrics

    public func renderMetrics(openMetrics: Bool) -> String {
        var e = Exposition(openMetrics: openMetrics)
        let snapshot = requestMetrics.snapshot().sorted { a, b in
            (a.key.route, a.key.method, a.key.status, a.key.protocolVersion) < (b.key.route, b.key.method, b.key.status, b.key.protocolVersion)
        }
        let name = "http_server_request_duration_seconds"
        e.family(name, .histogram, "Duration of HTTP server requests, from the complete head to the last byte queued.", unit: "seconds")
        for (key, series) in snapshot {
            let labels = [
                ("http_request_method", key.method), ("http_route", key.route), ("http_response_status_code", String(key.status)),
                ("network_protocol_version", key.protocolVersion),
            ]
            var cumulative: UInt64 = 0
            for (i, n) in series.buckets.enumerated() {
                cumulative += n
                let le = i < RequestMetrics.bounds.count ? Exposition.format(RequestMetrics.bounds[i]) : "+Inf"
                e.sample(name + "_bucket", labels + [("le", le)], Int(cumulative), exemplar: config.metrics.exemplars ? series.exemplars[i] : nil)
            }
            e.sample(name + "_count", labels, Int(series.count))
            e.sample(name + "_sum", labels, series.sum)
        }
        var bytesIn: [String: UInt64] = [:]
        var bytesOut: [String: UInt64] = [:]
        for (key, series) in snapshot {
            bytesIn[key.route, default: 0] += series.bytesIn
            bytesOut[key.route, default: 0] += series.bytesOut
        }
        e.family("http_server_request_body_bytes", .counter, "Request body bytes received, by route.")
        for (route, n) in bytesIn.sorted(by: { $0.key < $1.key }) { e.sample("http_server_request_body_bytes_total", [("http_route", route)], Int(n)) }
        e.family("http_server_response_body_bytes", .counter, "Response body bytes sent, by route.")
        for (route, n) in bytesOut.sorted(by: { $0.key < $1.key }) { e.sample("http_server_response_body_bytes_total", [("http_route", route)], Int(n)) }

        let src = attached
        if let server = src.server {
            let s = server.services
            e.family("http_server_active_requests", .gauge, "Requests in flight.")
            e.sample("http_server_active_requests", [], s.activeRequests.load(ordering: .relaxed))
            let open = server.openConnections.load(ordering: .relaxed)
            let h1 = s.openHTTP1.load(ordering: .relaxed)
            let h2 = s.openHTTP2.load(ordering: .relaxed)
            let upgraded = s.openUpgraded.load(ordering: .relaxed)
            e.family("meridian_connections_open", .gauge, "Open client connections, by protocol (negotiating: TLS handshake or protocol not settled yet; upgraded: switched protocols after HTTP/1.1 101).")
            e.sample("meridian_connections_open", [("protocol", "http1")], h1)
            e.sample("meridian_connections_open", [("protocol", "http2")], h2)
            e.sample("meridian_connections_open", [("protocol", "upgraded")], upgraded)
            e.sample("meridian_connections_open", [("protocol", "negotiating")], max(0, open - h1 - h2 - upgraded))
            e.family("meridian_connections_accepted", .counter, "Client connections accepted.")
            e.sample("meridian_connections_accepted_total", [], server.acceptedConnections.load(ordering: .relaxed))
            e.family("meridian_connections_refused", .counter, "Client connections closed at once: max_connections reached or draining.")
            e.sample("meridian_connections_refused_total", [], server.refusedConnections.load(ordering: .relaxed))
            e.family("meridian_connections", .counter, "Client connections by the protocol they settled on.")
            e.sample("meridian_connections_total", [("protocol", "http1")], s.totalHTTP1.load(ordering: .relaxed))
            e.sample("meridian_connections_total", [("protocol", "http2")], s.totalHTTP2.load(ordering: .relaxed))
            e.sample("meridian_connections_total", [("protocol", "upgraded")], s.totalUpgraded.load(ordering: .relaxed))
            e.family("meridian_upgraded_streams_open", .gauge, "HTTP/2 streams switched to another protocol by extended CONNECT (RFC 8441).")
            e.sample("meridian_upgraded_streams_open", [], s.openUpgradedStreams.load(ordering: .relaxed))
            e.family("meridian_upgraded_streams", .counter, "HTTP/2 streams switched to another protocol by extended CONNECT (RFC 8441).")
            e.sample("meridian_upgraded_streams_total", [], s.totalUpgradedStreams.load(ordering: .relaxed))
            e.family("meridian_requests_rejected", .counter, "Requests refused by the parser or a limit, by the status answered.")
            for (i, code) in ConnectionServices.rejectionStatuses.enumerated() {
                e.sample("meridian_requests_rejected_total", [("http_response_status_code", String(code))], s.rejectedByStatus[i].load(ordering: .relaxed))
            }
            e.sample(
                "meridian_requests_rejected_total", [("http_response_status_code", "other")],
                s.rejectedByStatus[ConnectionServices.rejectionStatuses.count].load(ordering: .relaxed)
            )
            e.family("meridian_timeouts", .counter, "Connections or streams closed by a timeout, by kind.")
            for (i, kind) in ConnectionServices.timeoutKinds.enumerated() {
                e.sample("meridian_timeouts_total", [("kind", kind)], s.timeoutsByKind[i].load(ordering: .relaxed))
            }
            e.family("meridian_tls_handshakes", .counter, "Completed TLS handshakes, by protocol version.")
            for (i, v) in ConnectionServices.tlsVersions.enumerated() {
                e.sample("meridian_tls_handshakes_total", [("tls_protocol_version", v)], s.tlsHandshakes[i].load(ordering: .relaxed))
            }
            let stores = server.certificateStores
            e.family("meridian_tls_handshake_failures", .counter, "Failed TLS handshakes: rejected_sni (unknown name under unknown_sni: reject) or error.")
            e.sample("meridian_tls_handshake_failures_total", [("reason", "error")], stores.reduce(0) { $0 + $1.handshakeFailures.load(ordering: .relaxed) })
            e.sample("meridian_tls_handshake_failures_total", [("reason", "rejected_sni")], stores.reduce(0) { $0 + $1.handshakeRejections.load(ordering: .relaxed) })
            e.family("meridian_tls_certificate_reloads", .counter, "Certificate reloads from changed files, by result (a failure keeps the old certificate).")
            e.sample("meridian_tls_certificate_reloads_total", [("result", "success")], stores.reduce(0) { $0 + $1.reloads.load(ordering: .relaxed) })
            e.sample("meridian_tls_certificate_reloads_total", [("result", "failure")], stores.reduce(0) { $0 + $1.reloadFailures.load(ordering: .relaxed) })
            e.family("meridian_tls_ocsp_fetches", .counter, "OCSP responses fetched from certificates' responders, by result: success, revoked (not stapled), failure (the last good response is kept while it is valid).")
            e.sample("meridian_tls_ocsp_fetches_total", [("result", "success")], stores.reduce(0) { $0 + $1.ocspFetches.load(ordering: .relaxed) })
            e.sample("meridian_tls_ocsp_fetches_total", [("result", "revoked")], stores.reduce(0) { $0 + $1.ocspRevoked.load(ordering: .relaxed) })
            e.sample("meridian_tls_ocsp_fetches_total", [("result", "failure")], stores.reduce(0) { $0 + $1.ocspFetchFailures.load(ordering: .relaxed) })
            e.family("meridian_tls_ocsp_stapled", .gauge, "1 when an OCSP response is stapled for the certificate (index in the listener's certificates), else 0.")
            for store in stores {
                for staple in store.ocspStaples {
                    e.sample("meridian_tls_ocsp_stapled", [("listener", store.listener), ("certificate", staple.name), ("index", String(staple.index))], staple.validUntil == nil ? 0 : 1)
                }
            }
            e.family("meridian_tls_ocsp_staple_expiry_seconds", .gauge, "When the OCSP response stapled for a certificate expires (its nextUpdate), in seconds since the epoch.")
            for store in stores {
                for staple in store.ocspStaples {
                    guard let until = staple.validUntil, until.isFinite else { continue }
                    e.sample("meridian_tls_ocsp_staple_expiry_seconds", [("listener", store.listener), ("certificate", staple.name), ("index", String(staple.index))], until)
                }
            }
        }
        renderUpstreamMetrics(&e)
        renderSharedMetrics(&e)
        let reload = configGeneration
        e.family("meridian_config_reloads", .counter, "Configuration reloads, by result (a failure keeps the running configuration).")
        e.sample("meridian_config_reloads_total", [("result", "success")], reloadsSucceeded.load(ordering: .relaxed))
        e.sample("meridian_config_reloads_total", [("result", "failure")], reloadsFailed.load(ordering: .relaxed))
        e.family("meridian_config_generation", .gauge, "Generation of the running configuration: 1 at start, +1 per applied reload.")
        e.sample("meridian_config_generation", [], reload.generation)
        e.family("meridian_config_last_reload_timestamp_seconds", .gauge, "When the running configuration was loaded (Unix time).")
        e.sample("meridian_config_last_reload_timestamp_seconds", [], reload.at.timeIntervalSince1970)
        e.family("meridian_build_info", .gauge, "Build information; always 1.")
        e.sample("meridian_build_info", [("version", version), ("swift_version", Self.swiftVersion)], 1)

        e.family("meridian_tracing_spans", .counter, "Requests by the sampling decision (sampled ones are recorded as spans).")
        e.sample("meridian_tracing_spans_total", [("sampled", "true")], tracingCounters.sampled.load(ordering: .relaxed))
        let sampled = tracingCounters.sampled.load(ordering: .relaxed)
        let all = tracingSummary.enabled ? src.server.map { $0.services.totalRequests.load(ordering: .relaxed) } ?? sampled : sampled
        e.sample("meridian_tracing_spans_total", [("sampled", "false")], max(0, all - sampled))
        e.family("meridian_tracing_spans_dropped", .counter, "Sampled spans never delivered: the export queue was full, or the collector failed or timed out.")
        e.sample("meridian_tracing_spans_dropped_total", [("reason", "queue_full")], tracingCounters.droppedQueueFull.load(ordering: .relaxed))
        e.sample("meridian_tracing_spans_dropped_total", [("reason", "export_failed")], tracingCounters.droppedExportFailed.load(ordering: .relaxed))
        e.family("meridian_access_log_lines", .counter, "Access-log lines queued for writing.")
        e.sample("meridian_access_log_lines_total", [], accessLog?.lines.load(ordering: .relaxed) ?? 0)
        e.family("meridian_access_log_dropped", .counter, "Access-log lines dropped because the writer fell behind.")
        e.sample("meridian_access_log_dropped_total", [], accessLog?.dropped.load(ordering: .relaxed) ?? 0)
        e.family("meridian_access_log_write_errors", .counter, "Failed writes or reopens of the access log (disk full, file gone, no permission).")
        e.sample("meridian_access_log_write_errors_total", [], accessLog?.writeErrors.load(ordering: .relaxed) ?? 0)

        let p = ProcessMetrics.read()
        e.family("process_start_time_seconds", .gauge, "Start time of the process since the Unix epoch in seconds.")
        e.sample("process_start_time_seconds", [], startedAt.timeIntervalSince1970)
        e.family("process_cpu_seconds", .counter, "Total user and system CPU time spent in seconds.")
        e.sample("process_cpu_seconds_total", [], p.cpuSeconds)
        e.family("process_resident_memory_bytes", .gauge, "Resident memory size in bytes.")
        e.sample("process_resident_memory_bytes", [], p.residentBytes)
        e.family("process_virtual_memory_bytes", .gauge, "Virtual memory size in bytes.")
        e.sample("process_virtual_memory_bytes", [], p.virtualBytes)
        e.family("process_open_fds", .gauge, "Number of open file descriptors.")
        e.sample("process_open_fds", [], p.openFDs)
        e.family("process_max_fds", .gauge, "Maximum number of open file descriptors.")
        e.sample("process_max_fds", [], p.maxFDs)
        e.family("process_threads", .gauge, "Number of OS threads in the process.")
        e.sample("process_threads", [], p.threads)
        return e.finish()
    }
}
