import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file under /proc/PID, read to its end with read(2): Foundation's `String(contentsOfFile:)` trusts st_size, which
/// is 0 there, and returns only the first page (a process's `maps` is longer than one).
func procFile(_ pid: pid_t, _ name: String) -> String? {
    let fd = open("/proc/\(pid)/\(name)", O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { break }
        bytes += chunk[..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// A size field of /proc/PID/status (`VmRSS`, `VmHWM`: the peak), in bytes; 0 when the process is gone.
func procMemory(_ field: String, pid: pid_t) -> Int {
    for line in (procFile(pid, "status") ?? "").split(separator: "\n") where line.hasPrefix("\(field):") {
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }
    return 0
}
