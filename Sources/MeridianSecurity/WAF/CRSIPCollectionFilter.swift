/// Removes the CRS actions that write ModSecurity's process-wide IP collection from a rule file.
///
/// CRS 3.3's scanner rules (REQUEST-913: 913100, 913101, 913102, 913110, 913120) end with
/// `setvar:'ip.reput_block_flag=1'`, `setvar:'ip.reput_block_reason=…'` and
/// `expirevar:'ip.reput_block_flag=…'`, feeding the IP-reputation block of REQUEST-910/949100,
/// which only acts when `tx.do_reput_block` is 1 (off by default, and not offered by Meridian).
/// At the default settings those writes decide nothing, and in libmodsecurity 3.0.9 they cost:
///
/// - The IP collection is one `InMemoryPerProcess` map per `ModSecurity` instance. Its writes take
///   a mutex but its reads do not (`resolveFirst` / `resolveMultiMatches`,
///   src/collection/backend/in_memory-per_process.cc at v3.0.9), and rule 949100 reads
///   `IP:REPUT_BLOCK_FLAG` on every request: a scanner request on one thread can rehash the map
///   under a read on another. Reported as owasp-modsecurity/ModSecurity#3054, fixed in v3.0.13
///   (commit e2b3c959, readers take a shared lock); Debian 12 ships 3.0.9.
/// - `expirevar` is accepted and ignored by the 3.0.9 parser (seclang-parser.yy:
///   `//ACTION_NOT_SUPPORTED("ExpireVar", @0)`; in-memory expiry came in v3.0.11), so each
///   scanner request with a new (client address, User-Agent) pair adds two entries that are never
///   freed: measured, 1,000 `sqlmap/1.N` requests left 2,000 entries. A client cycling its
///   User-Agent grows the process without bound.
///
/// Dropping the writes keeps every rule, id, operator and score as it was; only the dead
/// reputation bookkeeping goes, as CRS 4 later did itself when it moved IP reputation out of the
/// core rules. The filter is strict: an action line it does not recognise fails the load instead of
/// producing SecLang with a dangling continuation.
struct CRSIPCollectionFilter {
    /// The CRS file whose default-on rules write the IP collection.
    static let scannerDetectionFile = "REQUEST-913-SCANNER-DETECTION.conf"

    /// What the filter produced: SecLang to load with `msc_rules_add`, and how many actions it removed.
    struct Output: Sendable, Equatable {
        var text: String
        var removedActions: Int
    }

    /// The directory holding the file's data files. `msc_rules_add` has no file name to resolve
    /// `@pmFromFile scanners-user-agents.data` against, so relative data paths are made absolute.
    let dataDirectory: String

    func filter(_ text: String, source: String) throws(WAFEngineError) -> Output {
        var output: [Substring] = []
        var removed = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard Self.writesIPCollection(trimmed) else {
                output.append(absolutisingDataFiles(line))
                continue
            }
            removed += 1
            let body = trimmed.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }
            if body.starts(with: #"\,"#) {
                continue  // more actions follow on the next line
            }
            guard body.first == "\"" else {
                throw unexpected(source, line: index + 1, "an IP-collection action not followed by `,\\` or `\"`")
            }
            // The removed action closed the action list: close it on the last action kept instead.
            guard let last = output.indices.last, output[last].hasSuffix(#",\"#) else {
                throw unexpected(source, line: index + 1, "the action before it does not end with `,\\`")
            }
            output[last] = output[last].dropLast(2) + "\""
        }
        return Output(text: output.joined(separator: "\n"), removedActions: removed)
    }

    private static func writesIPCollection(_ trimmed: Substring) -> Bool {
        for action in ["setvar:'ip.", "setvar:ip.", "expirevar:'ip.", "expirevar:ip."]
        where trimmed.lowercased().hasPrefix(action) {
            return true
        }
        return false
    }

    private func absolutisingDataFiles(_ line: Substring) -> Substring {
        guard line.utf8.contains(UInt8(ascii: "@")) else { return line }  // skips the costly search on most lines
        var line = line
        for operatorName in ["@pmFromFile ", "@ipMatchFromFile "] {
            guard let range = line.firstRange(of: operatorName), line[range.upperBound...].first != "/" else {
                continue
            }
            line.replaceSubrange(range, with: operatorName + dataDirectory + "/")
        }
        return line
    }

    private func unexpected(_ source: String, line: Int, _ problem: String) -> WAFEngineError {
        .invalidConfiguration(
            "\(source):\(line): \(problem); this CRS layout is not one Meridian knows how to filter "
                + "(expected CRS 3.3's one action per line)")
    }
}
