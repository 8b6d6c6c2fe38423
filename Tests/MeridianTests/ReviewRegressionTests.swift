import Foundation
import Testing

@testable import MeridianCore

/// One test per defect found in review, each failing before its fix.
@Suite struct ReviewRegressionTests {
    @Test func hugeYearInAConditionalHeaderDoesNotCrash() async throws {
        #expect(DateCache.parse("Sun, 06 Nov 99999999999 08:49:37 GMT") == nil)
        #expect(DateCache.parse("Sun, 06 Nov -5 08:49:37 GMT") == nil)
        try await withTestServer(files: ["a.txt": "a"]) { s in
            for header in ["If-Modified-Since", "If-Unmodified-Since", "If-Range"] {
                let r = try await s.get("/a.txt", headers: [header: "Sun, 06 Nov 99999999999 08:49:37 GMT", "Range": "bytes=0-0"])
                #expect([200, 206].contains(r.status), "\(header)")
            }
        }
    }

    @Test func repeatedSlashesCannotSkipARoute() async throws {
        try await withTestServer(
            """
            hosts:
              - default: true
                routes:
                  - match: {prefix: /admin}
                    respond: {status: 403, body: no}
                  - match: {prefix: /}
                    static: {}
            """, files: ["admin/secret.txt": "SECRET", "docs/index.html": "docs"]) { s in
            for path in ["//admin/secret.txt", "///admin//secret.txt", "/x/..//admin/secret.txt"] {
                let r = try await s.get(path)
                #expect(r.status == 403 && !r.text.contains("SECRET"), "\(path)")
            }
            let redirect = try await s.get("//docs")
            #expect(redirect.status == 301 && redirect.header("location") == "/docs/")
        }
    }

    @Test func kelvinSignIsNotChunked() async throws {
        try await withTestServer { s in
            let c = try await s.client()
            try await c.send(bytes: Array("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun".utf8) + [0xE2, 0x84, 0xAA] + Array("ed\r\n\r\n0\r\n\r\n".utf8))
            #expect(try await c.readResponse().status == 400)
            #expect(await c.waitForClose())
        }
    }

    @Test func chunkSizeWithGarbageAfterWhitespaceIsRejected() throws {
        #expect(throws: HTTPParseError.self) { try HTTP1RequestParser.parseChunkSize(.init(string: "5 5")) }
        #expect(throws: HTTPParseError.self) { try HTTP1RequestParser.parseChunkSize(.init(string: "5 junk")) }
        #expect(try HTTP1RequestParser.parseChunkSize(.init(string: "5 ;name=value")) == 5)
        #expect(try HTTP1RequestParser.parseChunkSize(.init(string: "a;x")) == 10)
    }

    @Test func contentLengthWithLeadingZerosIsItsValue() async throws {
        try await withTestServer(
            """
            hosts:
              - default: true
                routes:
                  - match: {prefix: /}
                    respond: {status: 200, body: ok}
            """) { s in
            let c = try await s.client()
            try await c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000000000000000003\r\n\r\nabcGET / HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await c.readResponse().status == 200)
            #expect(try await c.readResponse().status == 200)
            await c.close()
        }
    }

    @Test func halfCloseStillAnswersEveryPipelinedRequest() async throws {
        // Static misses answer asynchronously, which is where the half-close used to cut in.
        try await withTestServer(files: ["a.txt": "A", "b.txt": "B"]) { s in
            let c = try await s.client()
            try await c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            try await c.shutdownOutput()
            #expect(try await c.readResponse().text == "A")
            #expect(try await c.readResponse().text == "B")
            #expect(await c.waitForClose())
        }
    }

    @Test func closingConnectionWhoseClientNeverReadsIsClosedAfterTheSendTimeout() async throws {
        try await withTestServer("timeouts: {send: 300ms}\n") { s in
            try Data(count: 32 * 1024 * 1024).write(to: s.directory.appendingPathComponent("big.bin"))
            let c = try await s.client()
            try await c.channel.setOption(.autoRead, value: false).get()
            try await c.send("GET /big.bin HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            var gone = false
            for _ in 0..<200 where !gone {
                gone = s.app.server.openConnections.load(ordering: .relaxed) == 0
                if !gone { try await Task.sleep(for: .milliseconds(25)) }
            }
            #expect(gone, "the server kept a closing connection whose client never read")
            await c.close()
        }
    }
}
