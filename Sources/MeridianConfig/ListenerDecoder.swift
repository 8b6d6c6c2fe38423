internal import Foundation
internal import Yams

/// Decodes a listener's `tls` and `http2` sections.
struct ListenerDecoder {
    let reader: ConfigReader

    func tls(_ node: Node, _ path: String) -> Configuration.TLS? {
        let keys = ["certificates", "unknown_sni", "profile", "min_version", "ciphers", "client_auth", "reload_interval", "hsts", "session_ticket_keys", "session_tickets", "ocsp_stapling"]
        guard let m = reader.mapping(node, path, allowed: keys) else { return nil }
        var tls = Configuration.TLS(certificates: [])
        if let n = m["certificates"], let items = reader.sequence(n, "\(path).certificates") {
            for (i, item) in items.enumerated() {
                let cpath = "\(path).certificates[\(i)]"
                guard let c = reader.mapping(item, cpath, allowed: ["cert", "key", "names", "ocsp"]) else { continue }
                guard let certNode = c["cert"], let cert = reader.string(certNode, "\(cpath).cert"),
                    let keyNode = c["key"], let key = reader.string(keyNode, "\(cpath).key")
                else {
                    reader.error(item, cpath, "needs both cert and key (PEM files)")
                    continue
                }
                readable(cert, certNode, "\(cpath).cert")
                readable(key, keyNode, "\(cpath).key")
                var names: [String] = []
                if let n = c["names"], let v = reader.strings(n, "\(cpath).names") {
                    names = v.map { $0.lowercased() }
                    for name in names where !ConfigDecoder.isValidServerName(name) {
                        reader.error(n, "\(cpath).names", "'\(name)' is not a host name; expected example.com or *.example.com")
                    }
                }
                var ocsp: String?
                if let n = c["ocsp"], let v = reader.string(n, "\(cpath).ocsp") {
                    readable(v, n, "\(cpath).ocsp")
                    ocsp = v
                }
                tls.certificates.append(.init(cert: cert, key: key, names: names, ocsp: ocsp))
            }
        }
        if tls.certificates.isEmpty {
            reader.error(node, "\(path).certificates", "no certificate; give at least one {cert: FILE, key: FILE}")
        }
        if let n = m["unknown_sni"], let v = reader.choice(n, "\(path).unknown_sni", as: Configuration.TLS.UnknownServerName.self) {
            tls.unknownServerName = v
        }
        if let n = m["profile"], let v = reader.choice(n, "\(path).profile", as: Configuration.TLS.Profile.self) {
            tls.profile = v
        }
        if let n = m["min_version"], let v = reader.choice(n, "\(path).min_version", as: Configuration.TLS.Version.self) {
            tls.minimumVersionOverride = v
            if v < .tls12, tls.profile != .old {
                reader.error(n, "\(path).min_version", "TLS \(v.rawValue) is offered only with profile: old; use \"1.2\" or \"1.3\", or set profile: old")
            } else if v < tls.profile.minimumVersion {
                reader.error(n, "\(path).min_version", "is below the \(tls.profile.rawValue) profile's TLS \(tls.profile.minimumVersion.rawValue); raise it or choose another profile")
            }
        }
        if let n = m["ciphers"], let v = reader.string(n, "\(path).ciphers") { tls.ciphers = v }
        if let n = m["client_auth"], let c = reader.mapping(n, "\(path).client_auth", allowed: ["ca", "required"]) {
            if let caNode = c["ca"], let ca = reader.string(caNode, "\(path).client_auth.ca") {
                readable(ca, caNode, "\(path).client_auth.ca")
                var auth = Configuration.TLS.ClientAuth(ca: ca)
                if let r = c["required"], let v = reader.bool(r, "\(path).client_auth.required") { auth.required = v }
                tls.clientAuth = auth
            } else {
                reader.error(n, "\(path).client_auth.ca", "missing; give the PEM file of the client CA")
            }
        }
        if let n = m["reload_interval"],
            let v = reader.duration(n, "\(path).reload_interval", range: .milliseconds(100)...(.seconds(3600)))
        {
            tls.reloadInterval = v
        }
        if let n = m["session_ticket_keys"], let files = reader.strings(n, "\(path).session_ticket_keys") {
            for (i, file) in files.enumerated() {
                var st = stat()
                if stat(file, &st) != 0 {
                    reader.error(n, "\(path).session_ticket_keys[\(i)]", "cannot read '\(file)'")
                } else if st.st_size != 48 && st.st_size != 80 {
                    reader.error(n, "\(path).session_ticket_keys[\(i)]", "'\(file)' holds \(st.st_size) bytes; a ticket key is 80 (or 48) random bytes: openssl rand 80 > \(file)")
                }
            }
            tls.sessionTicketKeys = files
        }
        if let n = m["session_tickets"], let t = reader.mapping(n, "\(path).session_tickets", allowed: ["enabled", "rotate", "keep", "shared"]) {
            if let e = t["enabled"], let v = reader.bool(e, "\(path).session_tickets.enabled") { tls.sessionTickets.enabled = v }
            if let r = t["rotate"], let v = reader.duration(r, "\(path).session_tickets.rotate", range: .seconds(60)...(.seconds(7 * 86400))) {
                tls.sessionTickets.rotation = v
            }
            if let k = t["keep"], let v = reader.int(k, "\(path).session_tickets.keep", range: 1...16) { tls.sessionTickets.keep = v }
            if let k = t["shared"], let v = reader.bool(k, "\(path).session_tickets.shared") { tls.sessionTickets.shared = v }
            if !tls.sessionTicketKeys.isEmpty, t["rotate"] != nil || t["keep"] != nil || t["shared"] != nil {
                reader.error(n, "\(path).session_tickets", "rotate, keep and shared apply to generated keys; with session_ticket_keys files, rotate by replacing the files (new key first)")
            }
            if !tls.sessionTicketKeys.isEmpty, !tls.sessionTickets.enabled {
                reader.error(n, "\(path).session_tickets.enabled", "is false but session_ticket_keys names key files; remove one of the two")
            }
        }
        if let n = m["ocsp_stapling"], let v = reader.bool(n, "\(path).ocsp_stapling") { tls.ocspStapling = v }
        if let n = m["hsts"], let v = reader.string(n, "\(path).hsts") {
            if HeaderSyntax.isValidValue(v) { tls.hsts = v } else { reader.error(n, "\(path).hsts", "holds a control character") }
        }
        return tls
    }

    func http2(_ node: Node, _ path: String) -> Configuration.HTTP2 {
        var h = Configuration.HTTP2()
        let keys = [
            "enabled", "h2c", "ping_interval", "ping_timeout", "max_concurrent_streams", "initial_window_size", "max_frame_size", "max_header_list_size",
            "max_resets_per_30s", "max_continuation_frames", "max_control_frames_per_30s",
        ]
        guard let m = reader.mapping(node, path, allowed: keys) else { return h }
        if let n = m["enabled"], let v = reader.bool(n, "\(path).enabled") { h.enabled = v }
        if let n = m["h2c"], let v = reader.bool(n, "\(path).h2c") { h.h2c = v }
        if let n = m["ping_interval"], let v = reader.duration(n, "\(path).ping_interval", range: .zero...(.seconds(86400))) {
            h.pingInterval = v == .zero ? nil : v
        }
        if let n = m["ping_timeout"], let v = reader.duration(n, "\(path).ping_timeout", range: .milliseconds(100)...(.seconds(3600))) {
            h.pingTimeout = v
        }
        if let n = m["max_concurrent_streams"], let v = reader.int(n, "\(path).max_concurrent_streams", range: 1...10_000) {
            h.maxConcurrentStreams = v
        }
        // RFC 9113 §6.5.2: window up to 2^31-1, frame size 2^14...2^24-1.
        if let n = m["initial_window_size"], let v = reader.size(n, "\(path).initial_window_size", range: 1...Int(Int32.max)) {
            h.initialWindowSize = v
        }
        if let n = m["max_frame_size"], let v = reader.size(n, "\(path).max_frame_size", range: 16384...16_777_215) {
            h.maxFrameSize = v
        }
        if let n = m["max_header_list_size"], let v = reader.size(n, "\(path).max_header_list_size", range: 1024...(1 << 20)) {
            h.maxHeaderListSize = v
        }
        if let n = m["max_resets_per_30s"], let v = reader.int(n, "\(path).max_resets_per_30s", range: 1...100_000) {
            h.maxResetsPerWindow = v
        }
        if let n = m["max_continuation_frames"], let v = reader.int(n, "\(path).max_continuation_frames", range: 1...1000) {
            h.maxContinuationFrames = v
        }
        if let n = m["max_control_frames_per_30s"], let v = reader.int(n, "\(path).max_control_frames_per_30s", range: 1...100_000) {
            h.maxControlFramesPerWindow = v
        }
        return h
    }

    private func readable(_ file: String, _ node: Node, _ path: String) {
        if !FileManager.default.isReadableFile(atPath: file) {
            reader.error(node, path, "cannot read '\(file)'; check the path and its permissions")
        }
    }
}
