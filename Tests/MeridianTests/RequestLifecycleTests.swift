import Foundation
import Logging
import MeridianConfig
import MeridianCore
import MeridianServer
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Testing

/// The one place every request begins and ends, redirects and probes over sockets, and the
/// connection handler in an EmbeddedChannel fed one byte at a time.
@Suite struct RequestLifecycleTests {
    final class Recorder: RequestObserver, @unchecked Sendable {  // guarded by lock
        let lock = NSLock()
        var started: [String] = []
        var finished: [(route: String, status: UInt, id: String)] = []
        func requestStarted(_ request: Request) { lock.lock(); started.append(String(request.path)); lock.unlock() }
        func requestFinished(_ record: RequestRecord) {
            lock.lock(); finished.append((record.route, record.status.code, record.request.id)); lock.unlock()
        }
        var snapshot: ([String], [(route: String, status: UInt, id: String)]) { lock.lock(); defer { lock.unlock() }; return (started, finished) }
    }

    static let yaml = """
        hosts:
          - names: [a.test]
            routes:
              - match: {path: /users/:id}
                respond: {status: 200, body: user}
              - match: {regex: "^/old/(.*)$"}
                redirect: {to: "https://$host/new/$1?from=$uri", status: 308}
              - match: {path: /files/:name/*}
                redirect: {to: "/f/:name/*"}
          - default: true
            routes:
              - match: {prefix: /}
                respond: {status: 404, body: nothing here}
        """

    func start(observer: Recorder) async throws -> (MeridianApplication, Int) {
        var config = try ConfigLoader.parse(yaml: Self.yaml, source: "t.yaml")
        config.listeners = [.init(name: "http", address: .init(host: "127.0.0.1", port: 0))]
        config.admin.address = .init(host: "127.0.0.1", port: 0)
        config.server.eventLoops = 1
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        let app = try MeridianApplication(configuration: config, logger: logger, observers: [observer])
        let bound = try await app.start()
        return (app, bound[0].address.port!)
    }

    /// Starts the application for `body` and shuts it down (awaited) however `body` ends.
    func withApp<T>(observer: Recorder, _ body: (MeridianApplication, Int) async throws -> T) async throws -> T {
        let (app, port) = try await start(observer: observer)
        let result: Result<T, any Error>
        do { result = .success(try await body(app, port)) } catch { result = .failure(error) }
        await app.shutdown(.fast)
        return try result.get()
    }

    @Test func observersSeeEveryRequestWithItsRoutePattern() async throws {
        let recorder = Recorder()
        // Shut down (awaited) before the recorder is read: every request has finished by then.
        try await withApp(observer: recorder) { _, port in
            let c = try await RawClient.connect(port: port)
            try await c.send("GET /users/42 HTTP/1.1\r\nHost: a.test\r\nX-Request-ID: r-1\r\n\r\nGET /nope HTTP/1.1\r\nHost: other\r\n\r\n")
            #expect(try await c.readResponse().text == "user")
            #expect(try await c.readResponse().status == 404)
            await c.close()
        }
        let (started, finished) = recorder.snapshot
        #expect(started == ["/users/42", "/nope"])
        #expect(finished.map(\.route) == ["/users/:id", "/"])
        #expect(finished.map(\.status) == [200, 404])
        #expect(finished.first?.id == "r-1")
    }

    @Test func redirectsExpandVariablesCapturesAndParameters() async throws {
        try await withApp(observer: Recorder()) { _, port in
            let r = try await get(port, "/old/a/b", host: "a.test")
            #expect(r.status == 308)
            #expect(r.header("location") == "https://a.test/new/a/b?from=/old/a/b")
            let p = try await get(port, "/files/x/y/z.txt", host: "a.test")
            #expect(p.status == 302 && p.header("location") == "/f/x/y/z.txt")
        }
    }

    @Test func probesAnswerWithChecksWhenVerbose() async throws {
        try await withApp(observer: Recorder()) { app, _ in
            let admin = try #require(app.adminListener?.address.port)
            for probe in ["livez", "readyz", "startupz"] {
                let r = try await get(admin, "/\(probe)")
                #expect(r.status == 200 && r.text == "ok\n")
            }
            let verbose = try await get(admin, "/readyz?verbose")
            #expect(verbose.text == "[+]ping ok\n[+]started ok\n[+]shutdown ok\n[+]upstreams ok\nreadyz check passed\n")
            app.health.register(.init(name: "redis", probes: [.readyz]) { "connection refused" })
            let failing = try await get(admin, "/readyz?verbose")
            #expect(failing.status == 503 && failing.text.contains("[-]redis failed: connection refused"))
            #expect(try await get(admin, "/readyz?exclude=redis").status == 200)
            #expect(try await get(admin, "/livez").status == 200)
            #expect(try await get(admin, "/other").status == 404)
        }
    }

    @Test func handlerInEmbeddedChannelAnswersPipelinedRequestsInOrder() throws {
        let route = Router.Route(pattern: .prefix("/"), responder: Echo())
        let runtime = ServerRuntime(
            router: Router(hosts: [.init(names: [], isDefault: true, routes: [route])]), limits: .init(), timeouts: .init(),
            serverHeader: "", generation: 1, logger: Logger(label: "t")
        )
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        defer { try? pool.syncShutdownGracefully() }
        let channel = EmbeddedChannel(handler: HTTP1ConnectionHandler(runtimeBox: RuntimeBox(runtime), services: ConnectionServices(threadPool: pool), canSendFile: false))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        for byte in "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8 {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        var out: [UInt8] = []
        while let part = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let b) = part { out += Array(b.readableBytesView) }
        }
        let text = String(decoding: out, as: UTF8.self)
        let one = try #require(text.range(of: "\r\n\r\n/one"))
        let two = try #require(text.range(of: "\r\n\r\n/two"))
        #expect(one.lowerBound < two.lowerBound)
        #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        #expect(text.contains("connection: close"))
        _ = try? channel.finish()
    }

    struct Echo: Responder {
        func respond(to request: Request, context: RequestContext) -> ResponseFuture {
            .immediate(Response(status: .ok, body: .buffer(ByteBuffer(string: String(request.path)))))
        }
    }

    func get(_ port: Int, _ path: String, host: String = "localhost") async throws -> TestResponse {
        try await RawClient.exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\r\n")
    }
}
