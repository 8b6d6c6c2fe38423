import Foundation
import Testing

/// The binary runs on tcmalloc (linked in, `Allocator` in the meridian target): its library is mapped, and tcmalloc
/// is what `malloc` calls. An allocator loaded ahead of it (jemalloc preloaded, as some operators do) is noticed and
/// said once in the log, and the server runs on it.
@Suite(.serialized) struct AllocatorTests {
    static let config = """
        listeners:
          - name: http
            address: 127.0.0.1:0
        admin:
          address: 127.0.0.1:0
        logging: {level: info}
        hosts:
          - default: true
            routes:
              - match: {prefix: /}
                respond: {status: 200, body: "ok"}
        """

    /// The child's /proc maps, read to the end (Foundation's `String(contentsOfFile:)` stops at a /proc file's first
    /// page: it trusts st_size, which is 0 there).
    static func mappedLibraries(_ m: MeridianProcess) throws -> String {
        let fd = open("/proc/\(m.process.processIdentifier)/maps", O_RDONLY)
        guard fd >= 0 else { throw TestError("open maps: \(errno)") }
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

    @Test func theBinaryRunsOnTCMalloc() async throws {
        let m = try MeridianProcess(config: Self.config)
        let port = try await m.port(of: "http")
        #expect(try await get(port, "/").text == "ok")
        #expect(try Self.mappedLibraries(m).contains("libtcmalloc_minimal.so"))
        #expect(!m.log.contains("malloc is not tcmalloc"))
        m.signal(SIGTERM)
        #expect(await m.waitForExit() == 0)
    }

    @Test func anAllocatorPreloadedAheadOfItIsNoticedAndUsed() async throws {
        // (scripts/test.sh installs libjemalloc-dev, and with it libjemalloc2.)
        let m = try MeridianProcess(config: Self.config, environment: ["LD_PRELOAD": "libjemalloc.so.2"])
        let port = try await m.port(of: "http")
        #expect(try await get(port, "/").text == "ok")
        let maps = try Self.mappedLibraries(m)
        #expect(maps.contains("libjemalloc.so.2"))
        #expect(m.log.contains("malloc is not tcmalloc"))
        m.signal(SIGTERM)
        #expect(await m.waitForExit() == 0)
    }
}
