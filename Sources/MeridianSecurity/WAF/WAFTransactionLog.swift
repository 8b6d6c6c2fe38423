#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// What ModSecurity reported about one transaction: matched rule ids, their messages, the score.
///
/// Filled by the log callback, which ModSecurity calls synchronously, on the calling thread,
/// from inside `msc_process_request_headers` / `_body` / `_logging`, with the `logCbData`
/// pointer given to `msc_new_transaction_with_id`: so one value per `inspect` call, on that call's
/// stack, needs no lock. A disruptive match (949110 denying in blocking mode) is not passed to
/// the callback but returned in the intervention's `log`, which `inspect` records the same way.
struct WAFTransactionLog {
    private(set) var matchedRuleIDs: [Int] = []
    private(set) var messages: [String] = []
    private(set) var anomalyScore = 0

    mutating func record(_ line: UnsafePointer<CChar>) {
        let bytes = UnsafeBufferPointer(
            start: UnsafeRawPointer(line).assumingMemoryBound(to: UInt8.self), count: strlen(line))
        guard let entry = Self.parse(bytes) else { return }
        if entry.id == WAFDirectives.scoreReportRuleID {
            // The report runs last (phase 5), so it overwrites anything parsed before it.
            let prefix = WAFDirectives.scoreReportMessagePrefix.utf8.count
            if let message = entry.message, let score = Int(message.dropFirst(prefix)) {
                anomalyScore = score
            }
            return
        }
        guard !matchedRuleIDs.contains(entry.id) else { return }
        matchedRuleIDs.append(entry.id)
        if let message = entry.message, messages.count < WAFVerdict.maximumMessages {
            messages.append(String(message.prefix(WAFVerdict.maximumMessageLength)))
        }
    }

    /// The rule id and `msg` of one line in ModSecurity's error-log format (`RuleMessage::log`
    /// and `_details`, src/rule_message.cc at v3.0.9):
    ///
    ///     ModSecurity: Warning. <match> [file "…"] [line "46"] [id "942100"] [rev "…"] [msg "…"] [data "…"] …
    ///
    /// `<match>` quotes the matched variable name and value without escaping quotes, so a request
    /// can plant a fake `[id "…"]` before the real one. The parser therefore takes the first id
    /// that sits in a complete `"] [line "<digits>"] [id "<digits>"] [rev "` run, which a planted
    /// copy can still imitate: ids are reporting data, never the block decision, which comes
    /// from `msc_intervention`. `[rev]` is hex-escaped by ModSecurity and cannot hold a quote,
    /// so the message starts at the `"] [msg "` after it and ends at the next `"] [data "`.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> (id: Int, message: String?)? {
        let lineMarker = Array(#"] [line ""#.utf8)
        var searchFrom = 0
        while let lineField = bytes.firstIndex(of: lineMarker, from: searchFrom) {
            searchFrom = lineField + 1
            guard lineField > 0, bytes[lineField - 1] == UInt8(ascii: "\"") else { continue }
            var cursor = lineField + lineMarker.count
            guard bytes.digits(at: &cursor) != nil, bytes.consume(#""] [id ""#, at: &cursor),
                let id = bytes.digits(at: &cursor), bytes.consume(#""] [rev ""#, at: &cursor)
            else { continue }
            return (id, message(in: bytes, after: cursor))
        }
        return nil
    }

    private static func message(in bytes: UnsafeBufferPointer<UInt8>, after revStart: Int) -> String? {
        guard let revEnd = bytes[revStart...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        var cursor = revEnd
        guard bytes.consume(#""] [msg ""#, at: &cursor),
            let end = bytes.firstIndex(of: Array(#""] [data ""#.utf8), from: cursor)
        else { return nil }
        return String(decoding: bytes[cursor..<end], as: UTF8.self)
    }
}

extension UnsafeBufferPointer<UInt8> {
    fileprivate func firstIndex(of pattern: [UInt8], from start: Int) -> Int? {
        guard pattern.count <= count else { return nil }
        var index = start
        while index + pattern.count <= count {
            if self[index] == pattern[0], self[index..<index + pattern.count].elementsEqual(pattern) {
                return index
            }
            index += 1
        }
        return nil
    }

    fileprivate func consume(_ literal: String, at cursor: inout Int) -> Bool {
        var index = cursor
        for byte in literal.utf8 {
            guard index < count, self[index] == byte else { return false }
            index += 1
        }
        cursor = index
        return true
    }

    /// Up to 10 ASCII digits, followed by anything that is not a digit.
    fileprivate func digits(at cursor: inout Int) -> Int? {
        var value = 0
        var index = cursor
        while index < count, index - cursor < 10, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self[index]) {
            value = value * 10 + Int(self[index] - UInt8(ascii: "0"))
            index += 1
        }
        guard index > cursor, index == count || !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self[index]) else {
            return nil
        }
        cursor = index
        return value
    }
}
