public import Atomics
internal import Foundation
public import MeridianConfig
public import MeridianCore
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix

/// One JSON line per request, written by a thread of its own: an event loop formats the line and
/// appends it to a bounded queue (a short lock, no system call); the writer thread wakes every
/// `flushInterval` (or as soon as `flushBytes` are waiting), swaps the queue out and writes it with
/// one write(2), as nginx's `access_log ... buffer= flush=` does. Waking the writer for every line
/// cost a context switch per request (45% of a 1 KiB request's throughput when measured). A full
/// queue (a stuck disk or pipe) drops lines and counts them instead of blocking a request.
/// SIGUSR1 reopens the file for log rotation.
public final class AccessLog: Sendable {
    public let lines = ManagedAtomic<Int>(0)
    public let dropped = ManagedAtomic<Int>(0)
    public let writeErrors = ManagedAtomic<Int>(0)
    let fields: [Configuration.AccessLog.Field]
    let path: String
    let capacity: Int
    /// Bytes waiting that make the writer go at once rather than at its next tick.
    static let flushBytes = 256 * 1024
    static let flushInterval = 0.1

    private struct Queue {
        var pending: [UInt8] = []
        var count = 0
        var reopen = false
        var stopping = false
    }

    private let queue = NIOLockedValueBox(Queue())
    private let wake = ConditionLock(value: 0)
    private let running = ManagedAtomic<Bool>(false)
    private let finished = ConditionLock(value: 0)

    public init(_ config: Configuration.AccessLog) {
        self.fields = config.fields
        self.path = config.path
        self.capacity = config.bufferLines
    }

    /// Opens the destination (failing on a file that cannot be opened) and starts the writer.
    public func start() throws {
        let fd = try Self.open(path)
        let t = Thread { [self] in self.run(fd: fd) }
        t.name = "meridian-access-log"
        running.store(true, ordering: .relaxed)
        t.start()
    }

    /// Reopens the file (after logrotate moved it away); a no-op for stdout and stderr.
    public func reopen() {
        queue.withLockedValue { $0.reopen = true }
        signalWriter()
    }

    /// Writes what is queued and stops the writer.
    public func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        queue.withLockedValue { $0.stopping = true }
        signalWriter()
        if finished.lock(whenValue: 1, timeoutSeconds: 5) { finished.unlock() }
    }

    /// The trace ids a line names when they differ from the request's own (a sampled request's
    /// final ids, known once its span is recorded), and when the request ended.
    public struct Override {
        var traceID: (high: UInt64, low: UInt64, span: UInt64)?
        var endedAt: timespec?
    }

    public func log(_ record: RequestRecord, override: Override? = nil) {
        var line: [UInt8] = []
        line.reserveCapacity(384)
        format(record, override: override, into: &line)
        let (accepted, crossed) = queue.withLockedValue { q -> (Bool, Bool) in
            guard q.count < capacity, !q.stopping else { return (false, false) }
            let before = q.pending.count
            q.pending.append(contentsOf: line)
            q.count += 1
            return (true, before < Self.flushBytes && q.pending.count >= Self.flushBytes)
        }
        if accepted {
            lines.wrappingIncrement(ordering: .relaxed)
            if crossed { signalWriter() }
        } else {
            dropped.wrappingIncrement(ordering: .relaxed)
        }
    }

    private func signalWriter() {
        wake.lock()
        wake.unlock(withValue: 1)
    }

    private func run(fd initial: CInt) {
        var fd = initial
        while true {
            if wake.lock(whenValue: 1, timeoutSeconds: Self.flushInterval) { wake.unlock(withValue: 0) }
            let (bytes, reopen, stopping) = queue.withLockedValue { q -> ([UInt8], Bool, Bool) in
                defer {
                    if !q.pending.isEmpty {
                        q.pending = []
                        q.pending.reserveCapacity(Self.flushBytes + 16 * 1024)
                    }
                    q.count = 0
                    q.reopen = false
                }
                return (q.pending, q.reopen, q.stopping)
            }
            if !bytes.isEmpty { writeAll(fd, bytes) }
            if reopen, fd > 2 {
                if let new = try? Self.open(path) {
                    close(fd)
                    fd = new
                } else {
                    writeErrors.wrappingIncrement(ordering: .relaxed)
                }
            }
            if stopping {
                let rest = queue.withLockedValue { q -> [UInt8] in
                    defer { q.pending = [] }
                    return q.pending
                }
                if !rest.isEmpty { writeAll(fd, rest) }
                if fd > 2 { close(fd) }
                finished.lock()
                finished.unlock(withValue: 1)
                return
            }
        }
    }

    private func writeAll(_ fd: CInt, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    writeErrors.wrappingIncrement(ordering: .relaxed)
                    return
                }
                offset += n
            }
        }
    }

    static func open(_ path: String) throws -> CInt {
        switch path {
        case "stdout": return 1
        case "stderr": return 2
        default:
            let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 {
                throw AccessLogError(path: path, reason: String(cString: strerror(errno)))
            }
            return fd
        }
    }

    // MARK: - Formatting

    func format(_ record: RequestRecord, override: Override? = nil, into out: inout [UInt8]) {
        let request = record.request
        out.append(UInt8(ascii: "{"))
        var first = true
        func key(_ name: StaticString) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "\""))
            name.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        func string<S: StringProtocol>(_ value: S) {
            Self.appendJSONString(value, to: &out)
        }
        func number(_ value: Int) {
            out.append(contentsOf: String(value).utf8)
        }
        func annotation(_ name: String, _ value: any Sendable) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            Self.appendJSONString(name, to: &out)
            out.append(UInt8(ascii: ":"))
            switch value {
            case let n as Int: number(n)
            case let x as Double where x.isFinite:
                // Three decimals, as duration_ms (the proxy's upstream_*_ms are milliseconds too).
                let micros = Int((x * 1000).rounded())
                out.append(contentsOf: "\(micros < 0 ? "-" : "")\(abs(micros) / 1000).\(Self.threeDigits(abs(micros) % 1000))".utf8)
            case let text as String: string(text)
            default: string(String(describing: value))
            }
        }
        for field in fields {
            switch field {
            case .timestamp:
                key("timestamp")
                string(Self.timestamp(override?.endedAt))
            case .traceID:
                if let ids = override?.traceID {
                    key("trace_id")
                    string(TraceContext.hex(ids.high) + TraceContext.hex(ids.low))
                    continue
                }
                guard let trace = request.trace else { continue }
                key("trace_id")
                string(trace.traceIDHex)
            case .spanID:
                if let ids = override?.traceID {
                    key("span_id")
                    string(TraceContext.hex(ids.span))
                    continue
                }
                guard let trace = request.trace else { continue }
                key("span_id")
                string(trace.spanIDHex)
            case .requestID:
                key("request_id")
                string(request.id)
            case .clientAddress:
                key("client_address")
                string(request.connection.remoteAddress?.ipAddress ?? "")
            case .method:
                key("method")
                string(request.method.rawValue)
            case .host:
                key("host")
                string(request.host)
            case .path:
                key("path")
                string(request.path)
            case .query:
                guard let q = request.query else { continue }
                key("query")
                string(q)
            case .route:
                key("route")
                string(record.route)
            case .status:
                key("status")
                number(Int(record.status.code))
            case .bytesIn:
                key("bytes_in")
                number(record.bodyBytesReceived)
            case .bytesOut:
                key("bytes_out")
                number(record.bodyBytesSent)
            case .durationMS:
                key("duration_ms")
                let micros = record.duration.nanoseconds / 1000
                out.append(contentsOf: "\(micros / 1000).\(Self.threeDigits(Int(micros % 1000)))".utf8)
            case .upstream, .cache:
                // The proxy's record annotations (upstream_addr, upstream_status, ...) are written by
                // their names after the fields, as every annotation is; the cache's will be too.
                continue
            case .protocol:
                key("protocol")
                string(request.connection.protocolVersion == "2" ? "HTTP/2" : "HTTP/" + request.connection.protocolVersion)
            case .tlsVersion:
                guard let tls = request.connection.tlsVersion else { continue }
                key("tls_version")
                string(tls)
            case .userAgent:
                guard let agent = request.fields.first(name: "user-agent") else { continue }
                key("user_agent")
                string(agent)
            case .referer:
                guard let referer = request.fields.first(name: "referer") else { continue }
                key("referer")
                string(referer)
            case .listener:
                key("listener")
                string(request.connection.listener)
            case .error:
                guard let error = record.error else { continue }
                key("error")
                string(error)
            }
        }
        // What actions added (the protocol upgraded to, the proxy's upstream_* fields; cache
        // status and encoding as those actions come): each under its own name, after the
        // configured fields.
        if !record.annotations.isEmpty {
            for (name, value) in record.annotations.all { annotation(name, value) }
        }
        out.append(contentsOf: [UInt8(ascii: "}"), UInt8(ascii: "\n")])
    }

    static func threeDigits(_ n: Int) -> String {
        n < 10 ? "00\(n)" : n < 100 ? "0\(n)" : "\(n)"
    }

    /// JSON string escaping: quotes, backslashes and control characters; invalid UTF-8 never gets
    /// here (Swift strings are valid).
    static func appendJSONString<S: StringProtocol>(_ value: S, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most values need no escaping: one scan, then one copy.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }) {
            out.append(contentsOf: value.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// RFC 3339 UTC with milliseconds; the part up to the second is formatted once per second per thread.
    static func timestamp(_ at: timespec? = nil) -> String {
        var ts = timespec()
        if let at { ts = at } else { clock_gettime(CLOCK_REALTIME, &ts) }
        let ms = Int(ts.tv_nsec / 1_000_000)
        let cache = secondCache.value(orMake: SecondCache.init)
        if cache.second != Int(ts.tv_sec) {
            cache.second = Int(ts.tv_sec)
            cache.prefix = utcSecond(Int(ts.tv_sec)) + "."
        }
        return cache.prefix + threeDigits(ms) + "Z"
    }

    /// `2026-11-22T05:40:00` (UTC) for seconds since the epoch.
    static func utcSecond(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    private final class SecondCache {
        var second = -1
        var prefix = ""
    }

    nonisolated(unsafe) private static let secondCache = ThreadSpecificVariable<SecondCache>()  // per-thread values
}

public struct AccessLogError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "cannot open access log \(path): \(reason)" }
}
