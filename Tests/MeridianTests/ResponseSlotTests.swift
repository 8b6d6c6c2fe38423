import MeridianCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// `ResponseFuture.slot`: an answer without a promise (the proxy's), through `map` and `future(on:)`.
struct ResponseSlotTests {
    /// A slot answered by hand, before or after its receiver registers.
    final class ManualSlot: ResponseSlot, @unchecked Sendable {
        var receiver: ((Result<Response, any Error>) -> Void)?
        var early: Result<Response, any Error>?
        var registrations = 0

        func whenAnswered(_ receiver: @escaping (Result<Response, any Error>) -> Void) {
            registrations += 1
            if let early { receiver(early) } else { self.receiver = receiver }
        }

        func answer(_ result: Result<Response, any Error>) {
            if let receiver { receiver(result) } else { early = result }
        }
    }

    struct Boom: Error {}

    @Test func aMappedSlotTransformsTheAnswerOnce() throws {
        let slot = ManualSlot()
        let mapped = ResponseFuture.slot(slot).map { r in
            var r = r
            r.headers.add(name: "x-mapped", value: "1")
            return r
        }.map { r in
            var r = r
            r.headers.add(name: "x-mapped", value: "2")
            return r
        }
        guard case .slot(let outer) = mapped else { Issue.record("map of a slot is a slot"); return }
        var got: [Result<Response, any Error>] = []
        outer.whenAnswered { got.append($0) }
        #expect(got.isEmpty && slot.registrations == 1)
        slot.answer(.success(.text(.ok, "hi")))
        #expect(got.count == 1)
        #expect(try got[0].get().headers["x-mapped"] == ["1", "2"])
    }

    @Test func aSlotBecomesAFutureOnTheLoop() throws {
        let loop = EmbeddedEventLoop()
        let late = ManualSlot()
        let future = ResponseFuture.slot(late).future(on: loop)
        var status: HTTPResponseStatus?
        future.whenSuccess { status = $0.status }
        #expect(status == nil)
        late.answer(.success(.text(.created, "made")))
        #expect(status == .created)

        let early = ManualSlot()
        early.answer(.failure(Boom()))
        var failed = false
        ResponseFuture.slot(early).future(on: loop).whenFailure { failed = $0 is Boom }
        #expect(failed)
        try loop.syncShutdownGracefully()
    }
}
