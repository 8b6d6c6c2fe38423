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

    static func mappedLibraries(_ m: MeridianProcess) throws -> String {
        guard let maps = procFile(m.process.processIdentifier, "maps") else { throw TestError("no /proc maps for the server") }
        return maps
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
