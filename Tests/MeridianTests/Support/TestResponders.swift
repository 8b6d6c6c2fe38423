import Atomics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

@testable import MeridianCore

/// Reads the whole body, then answers `bytes=N sum=S` (and `trailers=name:value,...`).
struct BodyEcho: Responder {
    func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        let body = request.body
        return .eventually(
            body.collect(upTo: 64 << 20, on: context.eventLoop).map { buffer in
                var text = "bytes=\(buffer.readableBytes) sum=\(buffer.readableBytesView.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xFFFFFF })"
                if let trailers = body.trailers {
                    text += " trailers=" + trailers.map { "\($0.name.lowercased()):\($0.value)" }.joined(separator: ",")
                }
                return .text(.ok, text + "\n")
            }
        )
    }

    static func sum(_ bytes: [UInt8]) -> Int { bytes.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xFFFFFF } }
}

/// Peeks at the body's first bytes (as the WAF does), then echoes what BodyEcho would: the whole body must
/// still reach the reader, from its first byte.
struct PeekThenEcho: Responder {
    let limit: Int

    func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        let body = request.body
        return .eventually(
            body.peek(upTo: limit, on: context.eventLoop).flatMap { peeked in
                body.collect(upTo: 64 << 20, on: context.eventLoop).map { buffer in
                    .text(.ok, "peeked=\(peeked.bytes.readableBytes) complete=\(peeked.complete) bytes=\(buffer.readableBytes) sum=\(BodyEcho.sum(Array(buffer.readableBytesView)))\n")
                }
            }
        )
    }
}

/// Streams the body back as it reads it: a response body produced while the request body is
/// still arriving (chunked on HTTP/1.1, DATA on HTTP/2).
struct DuplexEcho: Responder {
    func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        let body = request.body
        return .immediate(
            Response(
                status: .ok, headers: ["content-type": "application/octet-stream"],
                body: .stream(BodyStream { loop, write in
                    body.consume(on: loop) { piece in write(piece) }.map { _ in }
                })
            )
        )
    }
}

/// Reads nothing until the test opens the gate, then reads the body to its end and answers how
/// much it read. `bytesRead` counts what it has taken so far.
final class GatedReader: Responder, Sendable {
    let bytesRead = ManagedAtomic<Int>(0)
    private let state = NIOLockedValueBox<(open: Bool, waiting: [@Sendable () -> Void])>((false, []))

    func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        let promise = context.eventLoop.makePromise(of: Response.self)
        let body = request.body
        let loop = context.eventLoop
        let counter = bytesRead
        let start: @Sendable () -> Void = {
            loop.execute {
                body.consume(on: loop) { piece in
                    counter.wrappingIncrement(by: piece.readableBytes, ordering: .relaxed)
                    return loop.makeSucceededVoidFuture()
                }.map { _ in Response.text(.ok, "read \(counter.load(ordering: .relaxed))\n") }.cascade(to: promise)
            }
        }
        let now = state.withLockedValue { s -> Bool in
            if s.open { return true }
            s.waiting.append(start)
            return false
        }
        if now { start() }
        return .eventually(promise.futureResult)
    }

    func open() {
        let waiting = state.withLockedValue { s -> [@Sendable () -> Void] in
            s.open = true
            defer { s.waiting = [] }
            return s.waiting
        }
        for start in waiting { start() }
    }
}

/// Never answers; records why the client went away when it does.
final class GoneWatcher: Responder, Sendable {
    let reasons = NIOLockedValueBox<[String]>([])
    let requests = ManagedAtomic<Int>(0)

    func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        requests.wrappingIncrement(ordering: .relaxed)
        let promise = context.eventLoop.makePromise(of: Response.self)
        let reasons = self.reasons
        context.clientGone.whenGone { reason in
            reasons.withLockedValue { $0.append(reason) }
            promise.fail(CancellationError())
        }
        return .eventually(promise.futureResult)
    }

    /// Waits (polling) until a request has reached the responder.
    func waitForRequest(timeout: Duration = .seconds(5)) async throws {
        let end = ContinuousClock.now + timeout
        while requests.load(ordering: .relaxed) == 0 && ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(10)) }
    }

    /// Waits (polling) until a reason is recorded.
    func waitForReason(timeout: Duration = .seconds(5)) async throws -> String? {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if let r = reasons.withLockedValue({ $0.first }) { return r }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}

/// Switches to a small `echo` protocol: every byte comes back; `bye` closes; on drain it says
/// `draining` and closes (its own "close frame").
struct EchoUpgrade: Responder {
    func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        guard request.upgradeProtocol == "echo" else {
            return .immediate(.text(HTTPResponseStatus(statusCode: 426), "426 Upgrade Required\n", headers: ["upgrade": "echo"]))
        }
        return .immediate(
            .switchingProtocols(ProtocolUpgrade(protocolName: "echo") { stream in stream.delegate = EchoProtocol() }, headers: ["x-echo": "1"])
        )
    }
}

final class EchoProtocol: UpgradedStream.Delegate {
    func upgradedStream(_ stream: UpgradedStream, received bytes: ByteBuffer) {
        if String(buffer: bytes) == "bye" {
            stream.close()
            return
        }
        _ = stream.write(bytes)
    }

    func upgradedStreamClosed(_ stream: UpgradedStream) {}

    func upgradedStreamShouldClose(_ stream: UpgradedStream) {
        stream.write(ByteBuffer(string: "draining")).whenComplete { _ in stream.close() }
    }
}

/// Always answers with a switch to `echo`, asked for or not: the request layer must refuse it.
struct AlwaysSwitch: Responder {
    func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        .immediate(.switchingProtocols(ProtocolUpgrade(protocolName: "echo") { stream in stream.delegate = EchoProtocol() }))
    }
}
