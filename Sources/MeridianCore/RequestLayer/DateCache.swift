internal import Foundation
internal import NIOConcurrencyHelpers
public import NIOPosix

/// The `Date` header value (RFC 9110 §5.6.7), formatted once a second per thread instead of per response.
///
/// `@unchecked Sendable`: an instance is only reached through `current`, a thread-local, so it is
/// never touched by two threads.
public final class DateCache: @unchecked Sendable {
    private var second: Int = -1
    private var cached: String = ""

    private static let threadLocal = ThreadSpecificVariable<DateCache>()

    /// The cache of the calling thread (an event loop), made on first use.
    public static var current: DateCache { threadLocal.value(orMake: DateCache.init) }

    public var value: String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return value(at: Int(now.tv_sec))
    }

    /// The value for `epochSeconds` (the wall clock read by the caller: ``LoopClock/date``).
    func value(at epochSeconds: Int) -> String {
        if epochSeconds != second {
            second = epochSeconds
            cached = Self.format(epochSeconds: epochSeconds)
        }
        return cached
    }

    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func format(epochSeconds: Int) -> String {
        var t = time_t(epochSeconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[(epochSeconds / 86400 % 7 + 7) % 7]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon)]) \(tm.tm_year + 1900) "
            + "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
    }

    /// Parses IMF-fixdate (and, as RFC 9110 §5.6.7 asks, the obsolete RFC 850 and asctime forms).
    public static func parse(_ text: String) -> Int? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        var day: Int?, month: Int?, year: Int?, clock: Substring?
        if parts.count == 6, parts[5] == "GMT" {  // Sun, 06 Nov 1994 08:49:37 GMT
            day = Int(parts[1]); month = months.firstIndex(of: String(parts[2])); year = Int(parts[3]); clock = parts[4]
        } else if parts.count == 4, parts[3] == "GMT" {  // Sunday, 06-Nov-94 08:49:37 GMT
            let d = parts[1].split(separator: "-")
            guard d.count == 3 else { return nil }
            day = Int(d[0]); month = months.firstIndex(of: String(d[1]))
            year = Int(d[2]).map { $0 < 70 ? 2000 + $0 : ($0 < 100 ? 1900 + $0 : $0) }
            clock = parts[2]
        } else if parts.count == 5 {  // Sun Nov  6 08:49:37 1994
            month = months.firstIndex(of: String(parts[1])); day = Int(parts[2]); clock = parts[3]; year = Int(parts[4])
        }
        // A year outside 1...9999 is not a date any client sends, and would overflow tm_year.
        guard let day, let month, let year, let clock, (1...9999).contains(year) else { return nil }
        let hms = clock.split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3, (1...31).contains(day), (0...23).contains(hms[0]), (0...59).contains(hms[1]),
            (0...60).contains(hms[2])
        else { return nil }
        var tm = tm()
        tm.tm_year = Int32(year - 1900)
        tm.tm_mon = Int32(month)
        tm.tm_mday = Int32(day)
        tm.tm_hour = Int32(hms[0])
        tm.tm_min = Int32(hms[1])
        tm.tm_sec = Int32(hms[2])
        return Int(timegm(&tm))
    }
}

extension ThreadSpecificVariable {
    /// The calling thread's value, made by `make` on the thread's first call.
    public func value(orMake make: () -> Value) -> Value {
        if let existing = currentValue { return existing }
        let new = make()
        currentValue = new
        return new
    }
}
