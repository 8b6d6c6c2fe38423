import Foundation
import Glibc
import Testing
@testable import MeridianCompression

/// The compression pump's file reads: from the page cache on the event loop (`preadv2` with `RWF_NOWAIT`), the rest
/// on the thread pool. Files live under the package's `.build` (a disk file system: tmpfs pages cannot be evicted).
struct FileReaderTests {
    static func diskDirectory() throws -> URL {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent(".build/page-cache-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes `bytes` to `url`, syncs it and drops its pages from the page cache.
    static func writeUncached(_ bytes: [UInt8], to url: URL) throws {
        try Data(bytes).write(to: url)
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw TestError("open \(url.path): errno \(errno)") }
        defer { close(fd) }
        guard fsync(fd) == 0, posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0 else { throw TestError("evict: errno \(errno)") }
    }

    static func bytes(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) } }

    @Test func aCachedFileIsReadWholeWithoutWaiting() throws {
        let dir = try Self.diskDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("cached")
        let content = Self.bytes(300_000)
        try Data(content).write(to: url)  // just written: in the page cache
        let fd = open(url.path, O_RDONLY)
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: 200_000)
        let n = out.withUnsafeMutableBytes { FileReader.preadCached(fd, into: $0, at: 50_000) }
        #expect(n == 200_000)
        #expect(out == Array(content[50_000..<250_000]))
        // Past the end: what is there.
        let tail = out.withUnsafeMutableBytes { FileReader.preadCached(fd, into: $0, at: 250_000) }
        #expect(tail == 50_000)
    }

    @Test func anEvictedFileIsNotReadOnTheLoop() throws {
        let dir = try Self.diskDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("evicted")
        try Self.writeUncached(Self.bytes(1 << 20), to: url)
        let fd = open(url.path, O_RDONLY)
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: 1 << 20)
        let n = out.withUnsafeMutableBytes { FileReader.preadCached(fd, into: $0, at: 0) }
        #expect(n < 1 << 20, "RWF_NOWAIT read \(n) bytes of a file dropped from the page cache")
    }
}
