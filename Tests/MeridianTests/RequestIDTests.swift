import NIOHTTP1
import NIOPosix
import Testing

@testable import MeridianCore

/// The ids the server makes for requests without a usable `X-Request-ID`: `<instance>-<counter>` in base 62.
struct RequestIDTests {
    let prefix = Array("AbCd0123-".utf8)

    @Test func theCounterIsWrittenInBase62MostSignificantFirst() {
        #expect(ConnectionServices.id(prefix: prefix, counter: 0) == "AbCd0123-0")
        #expect(ConnectionServices.id(prefix: prefix, counter: 9) == "AbCd0123-9")
        #expect(ConnectionServices.id(prefix: prefix, counter: 10) == "AbCd0123-a")
        #expect(ConnectionServices.id(prefix: prefix, counter: 61) == "AbCd0123-Z")
        #expect(ConnectionServices.id(prefix: prefix, counter: 62) == "AbCd0123-10")
        #expect(ConnectionServices.id(prefix: prefix, counter: 62 * 62 + 1) == "AbCd0123-101")
        // 62^6 - 1: the largest counter whose id still fits 15 bytes (a String kept inline).
        #expect(ConnectionServices.id(prefix: prefix, counter: 56_800_235_583) == "AbCd0123-ZZZZZZ")
        #expect(ConnectionServices.id(prefix: prefix, counter: 56_800_235_584) == "AbCd0123-1000000")
        #expect(ConnectionServices.id(prefix: prefix, counter: .max) == "AbCd0123-lYGhA16ahyf")
    }

    @Test func madeIDsAreDistinctWellFormedAndShort() throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        let services = ConnectionServices(threadPool: pool)
        var seen = Set<String>()
        for _ in 0..<1000 {
            let id = services.requestID(from: HTTPHeaders())
            #expect(ConnectionServices.isWellFormedID(id), "\(id)")
            #expect(id.utf8.count <= 15, "\(id)")
            let parts = id.split(separator: "-")
            #expect(parts.count == 2 && parts[0].count == 8, "\(id)")
            seen.insert(id)
        }
        #expect(seen.count == 1000)
        // A well-formed client id is kept; a malformed one is replaced.
        #expect(services.requestID(from: ["X-Request-ID": "abc-123"]) == "abc-123")
        #expect(services.requestID(from: ["X-Request-ID": "bad id"]) != "bad id")
    }
}
