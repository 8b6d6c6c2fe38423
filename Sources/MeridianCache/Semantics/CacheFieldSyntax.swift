internal import MeridianConfig
internal import MeridianCore

/// The small pieces of HTTP field syntax the caching rules share: list members, delta-seconds and HTTP-dates.
///
/// Everything here reads bytes and never fails: a value that does not parse comes back as nil (or is skipped in a
/// list), because a cache must keep working on whatever an origin sends (RFC 9111 §4.2.1 asks it to treat invalid
/// freshness information as stale rather than reject the response).
enum CacheFieldSyntax {
    /// The largest delta-seconds a cache keeps: bigger values mean "this many" (RFC 9111 §1.2.2).
    static let maxDeltaSeconds = 2_147_483_648

    /// Reads `delta-seconds` (RFC 9111 §1.2.2): digits only, saturating at 2^31; nil when empty or not all digits.
    static func deltaSeconds(_ text: some StringProtocol) -> Int? {
        var value = 0
        var sawDigit = false
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            sawDigit = true
            if value < maxDeltaSeconds {
                value = min(value * 10 + Int(byte - UInt8(ascii: "0")), maxDeltaSeconds)
            }
        }
        return sawDigit ? value : nil
    }

    /// The comma-separated members of all `lines` of a list-based field (RFC 9110 §5.6.1), OWS trimmed, empty
    /// members dropped. Commas inside quoted strings are not special: the fields read this way (Vary, Connection,
    /// Age, Content-Length, If-None-Match) carry none that matter.
    static func listMembers(_ lines: [String]) -> [Substring] {
        var members: [Substring] = []
        for line in lines {
            for member in line.split(separator: ",", omittingEmptySubsequences: true) {
                let trimmed = trimOWS(member)
                if !trimmed.isEmpty { members.append(trimmed) }
            }
        }
        return members
    }

    /// `text` without leading and trailing spaces and tabs (OWS, RFC 9110 §5.6.3).
    static func trimOWS(_ text: Substring) -> Substring {
        var start = text.startIndex
        var end = text.endIndex
        while start < end, text[start] == " " || text[start] == "\t" { start = text.index(after: start) }
        while end > start {
            let before = text.index(before: end)
            guard text[before] == " " || text[before] == "\t" else { break }
            end = before
        }
        return text[start..<end]
    }

    /// ASCII lower case, the case rule of field names and directive names (RFC 9110 §5.1, RFC 9111 §5.2).
    static func lowercasedASCII(_ text: some StringProtocol) -> String {
        var needsWork = false
        for byte in text.utf8 where byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") {
            needsWork = true
            break
        }
        guard needsWork else { return String(text) }
        let bytes = text.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An HTTP-date in any of the three forms RFC 9110 §5.6.7 asks recipients to accept, in epoch seconds.
    static func parseDate(_ text: String) -> Double? {
        DateCache.parse(String(trimOWS(Substring(text)))).map(Double.init)
    }

    /// `epochSeconds` as an IMF-fixdate (RFC 9110 §5.6.7), the fraction dropped.
    static func formatDate(_ epochSeconds: Double) -> String {
        DateCache.format(epochSeconds: Int(epochSeconds.rounded(.down)))
    }

    /// The single date of a field such as `Date` or `Last-Modified`; nil when absent, invalid, or sent as several
    /// differing lines (a recipient cannot know which one is meant).
    static func singleDate(_ headers: [String]) -> Double? {
        guard let first = headers.first else { return nil }
        for other in headers.dropFirst() where other != first { return nil }
        return parseDate(first)
    }

    /// `true` for a `tchar` (RFC 9110 §5.6.2).
    static func isTokenByte(_ byte: UInt8) -> Bool { HeaderSyntax.isTokenByte(byte) }
}
