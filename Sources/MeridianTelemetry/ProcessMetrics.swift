internal import Foundation

/// The standard `process_*` metrics, read from /proc at scrape time (Linux; zeros elsewhere).
struct ProcessMetrics {
    var cpuSeconds: Double = 0
    var residentBytes: Int = 0
    var virtualBytes: Int = 0
    var openFDs: Int = 0
    var maxFDs: Int = 0
    var threads: Int = 0

    static func read() -> ProcessMetrics {
        var m = ProcessMetrics()
        #if os(Linux)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = sysconf(Int32(_SC_PAGESIZE))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")")
        {
            // Fields after "(comm)": state is field 3; utime 14, stime 15, num_threads 20, vsize 23, rss 24.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ n: Int) -> Double { fields.count > n - 3 ? Double(fields[n - 3]) ?? 0 : 0 }
            if ticks > 0 { m.cpuSeconds = (field(14) + field(15)) / ticks }
            m.threads = Int(field(20))
            m.virtualBytes = Int(field(23))
            m.residentBytes = Int(field(24)) * page
        }
        m.openFDs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { m.maxFDs = Int(clamping: limit.rlim_cur) }
        #endif
        return m
    }
}
