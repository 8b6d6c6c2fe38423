internal import Foundation
public import Logging
internal import NIOConcurrencyHelpers
public import Atomics

/// One JSON object per line (or `key=value` text), with the level shared so a reload can change it
/// for every logger at once.
public struct JSONLogHandler: LogHandler {
    public enum Format: Sendable { case json, text }

    /// The level in force for all handlers of the process.
    public static let level = ManagedAtomic<Int>(Logger.Level.info.rank)
    private static let lock = NIOLock()

    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: Format

    public init(label: String, format: Format) {
        self.label = label
        self.format = format
    }

    public var logLevel: Logger.Level {
        get { Logger.Level.allCases[Self.level.load(ordering: .relaxed)] }
        set { Self.level.store(newValue.rank, ordering: .relaxed) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let line: String
        let timestamp = Self.timestamp()
        switch format {
        case .json:
            var out = "{\"ts\":\"\(timestamp)\",\"level\":\"\(event.level)\",\"logger\":\(Self.quote(label)),\"msg\":\(Self.quote(event.message.description))"
            for key in all.keys.sorted() {
                out += ",\(Self.quote(key)):\(Self.quote(all[key]!.description))"
            }
            line = out + "}\n"
        case .text:
            var out = "\(timestamp) \(event.level) \(label): \(event.message)"
            for key in all.keys.sorted() { out += " \(key)=\(all[key]!)" }
            line = out + "\n"
        }
        var bytes = Array(line.utf8)
        Self.lock.withLock {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
                if n <= 0 { break }
                offset += n
            }
        }
        bytes.removeAll()
    }

    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
            tm.tm_min, tm.tm_sec, ts.tv_nsec / 1_000_000
        )
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

extension Logger.Level {
    var rank: Int { Logger.Level.allCases.firstIndex(of: self)! }
}
