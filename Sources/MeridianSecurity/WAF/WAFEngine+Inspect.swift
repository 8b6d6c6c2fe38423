internal import CModSecurity

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

extension WAFEngine {
    /// Runs the request through ModSecurity and the CRS and says whether to block it.
    ///
    /// One transaction per call, in the order the ModSecurity connectors use (ModSecurity-nginx):
    /// connection, URI, headers (phase 1), body (phase 2, where the CRS does most of its work and
    /// 949110 compares the anomaly score with the threshold), intervention, logging (phase 5).
    /// A disruption in phase 1 skips the body. Synchronous and CPU-bound: see the package's
    /// WAFBench numbers before calling it on an event loop.
    public func inspect(_ request: WAFRequest) -> WAFVerdict {
        var log = WAFTransactionLog()
        return withUnsafeMutablePointer(to: &log) { log in
            let transaction = Self.transactionID(request.requestID).withCString { id in
                msc_new_transaction_with_id(
                    modSecurity.pointer, ruleSet.pointer, UnsafeMutablePointer(mutating: id),
                    UnsafeMutableRawPointer(log))
            }
            guard let transaction else {
                // Not reached in practice: the C API allocates with `new`, which throws rather than
                // returning NULL. Should it ever happen, say so in the verdict instead of crashing.
                return WAFVerdict(
                    blocked: false, status: nil, matchedRuleIDs: [], anomalyScore: 0,
                    messages: ["ModSecurity could not create a transaction"], bodyTruncated: false)
            }
            defer { msc_transaction_cleanup(transaction) }
            let bodyTruncated = (request.body?.count ?? 0) > configuration.maxBodyBytes

            msc_process_connection(
                transaction, request.clientAddress, Int32(clamping: request.clientPort), request.serverAddress,
                Int32(clamping: request.serverPort))
            Self.uriWithoutNUL(request.uri).withCString { uri in
                _ = msc_process_uri(transaction, uri, request.method, request.version.rawValue)
            }
            for header in request.headers {
                Self.addHeader(header.name, header.value, to: transaction)
            }
            msc_process_request_headers(transaction)
            var disruption = Self.intervention(transaction, log: log)
            if disruption == nil {
                if let body = request.body, !body.isEmpty {
                    // One byte past the bound lets ModSecurity see the overflow: it keeps exactly
                    // `maxBodyBytes` (ProcessPartial) and sets INBOUND_DATA_ERROR, which the
                    // body-parse rules 99002–99004 check so a cut body is not refused as malformed.
                    let count = min(body.count, configuration.maxBodyBytes + 1)
                    body.withUnsafeBufferPointer { bytes in
                        _ = msc_append_request_body(transaction, bytes.baseAddress, count)
                    }
                }
                msc_process_request_body(transaction)
                disruption = Self.intervention(transaction, log: log)
            }
            msc_process_logging(transaction)

            return WAFVerdict(
                blocked: configuration.mode == .blocking && (disruption ?? 0) >= 400,
                status: disruption,
                matchedRuleIDs: log.pointee.matchedRuleIDs,
                anomalyScore: log.pointee.anomalyScore,
                messages: log.pointee.messages,
                bodyTruncated: bodyTruncated)
        }
    }

    /// The status of a pending disruption, or nil. `msc_intervention` reports a disruption once and
    /// resets it (`Transaction::intervention`), which is what lets phase 5 still run after a block.
    /// Its `log` (and `url`, for redirects) are `strdup`ed for the caller to free.
    private static func intervention(
        _ transaction: OpaquePointer, log: UnsafeMutablePointer<WAFTransactionLog>
    ) -> Int? {
        var intervention = ModSecurityIntervention(status: 200, pause: 0, url: nil, log: nil, disruptive: 0)
        let disruptive = msc_intervention(transaction, &intervention) != 0
        defer {
            free(intervention.url)
            free(intervention.log)
        }
        guard disruptive else { return nil }
        if let line = intervention.log {
            // The disruptive rule (949110 in blocking mode) never reaches the log callback.
            log.pointee.record(line)
        }
        return Int(intervention.status)
    }

    private static func addHeader(_ name: String, _ value: String, to transaction: OpaquePointer) {
        var name = name
        var value = value
        name.withUTF8 { name in
            value.withUTF8 { value in
                _ = msc_add_n_request_header(transaction, name.baseAddress, name.count, value.baseAddress, value.count)
            }
        }
    }

    /// `msc_process_uri` takes a C string: a NUL would end the URI there and hide what follows
    /// from every rule, so it goes in as `%00`, which ModSecurity decodes back into the argument.
    private static func uriWithoutNUL(_ uri: String) -> String {
        guard uri.utf8.contains(0) else { return uri }
        return uri.replacingNUL()
    }

    /// The transaction id doubles as `UNIQUE_ID` and appears in every log line: keep it short and
    /// free of quotes and brackets, whatever the client sent as X-Request-ID.
    static func transactionID(_ requestID: String) -> String {
        let bytes = requestID.utf8.prefix(128)
        if !bytes.isEmpty, bytes.count == requestID.utf8.count, bytes.allSatisfy(isIDByte) { return requestID }
        let cleaned = bytes.map { isIDByte($0) ? $0 : UInt8(ascii: "_") }
        return cleaned.isEmpty ? "-" : String(decoding: cleaned, as: UTF8.self)
    }

    private static func isIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: ":"):
            return true
        default:
            return false
        }
    }
}

extension String {
    fileprivate func replacingNUL() -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count + 6)
        for byte in utf8 {
            if byte == 0 {
                bytes.append(contentsOf: "%00".utf8)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
