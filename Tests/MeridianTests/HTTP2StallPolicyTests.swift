import Testing

@testable import MeridianCore

/// The HTTP/2 stall rules as pure state, driven by a manual clock.
@Suite struct HTTP2StallPolicyTests {
    typealias Policy = HTTP2StallPolicy<ManualClock>

    @Test func aResponseThatDoesNotMoveForSendIsStalled() {
        var clock = ManualClock()
        var s = Policy.Stream(bodyRead: .seconds(5), send: .seconds(2))
        s.responseProgressed(at: clock.now)
        clock.advance(by: .seconds(2))
        #expect(s.check(at: clock.now, connectionProgressed: false, readerBehind: false) == .running)
        s.responseProgressed(at: clock.now)  // a chunk left
        clock.advance(by: .milliseconds(2001))
        #expect(s.check(at: clock.now, connectionProgressed: false, readerBehind: false) == .responseStalled)
        #expect(!s.isRunning)
    }

    @Test func aHandedOverResponseMovesWhileTheConnectionSendsData() {
        var clock = ManualClock()
        var s = Policy.Stream(bodyRead: .seconds(5), send: .seconds(2))
        s.responseHandedOver(at: clock.now)
        for _ in 0..<10 {
            clock.advance(by: .seconds(1))
            #expect(s.check(at: clock.now, connectionProgressed: true, readerBehind: false) == .running)
        }
        clock.advance(by: .milliseconds(2001))
        #expect(s.check(at: clock.now, connectionProgressed: false, readerBehind: false) == .responseStalled)
    }

    @Test func aBodyThatStopsIsTimedOutUnlessTheReaderIsBehind() {
        var clock = ManualClock()
        var s = Policy.Stream(bodyRead: .seconds(3), send: .seconds(30))
        s.bodyProgressed(at: clock.now)
        clock.advance(by: .seconds(10))
        #expect(s.check(at: clock.now, connectionProgressed: false, readerBehind: true) == .running, "the wait is the server's")
        clock.advance(by: .seconds(3))
        #expect(s.check(at: clock.now, connectionProgressed: false, readerBehind: false) == .running, "the clock restarted when the reader caught up")
        clock.advance(by: .milliseconds(3001))
        #expect(s.check(at: clock.now, connectionProgressed: false, readerBehind: false) == .bodyTimedOut)
        var ended = Policy.Stream(bodyRead: .seconds(3), send: .seconds(30))
        ended.bodyProgressed(at: clock.now)
        ended.bodyEnded()
        clock.advance(by: .seconds(60))
        #expect(ended.check(at: clock.now, connectionProgressed: false, readerBehind: false) == .idle)
    }

    @Test func aSocketThatTakesNothingClosesTheConnectionButDrainingIsProgress() {
        var clock = ManualClock()
        var c = Policy.Connection()
        #expect(c.tick(at: clock.now, send: .seconds(2), bufferedBytes: nil, outboundProgress: 0) == .checkStreams(progressed: false, running: false))
        c.writabilityChanged(false, at: clock.now)
        var buffered = 1_000_000
        for _ in 0..<5 {
            clock.advance(by: .seconds(1))
            buffered -= 10_000  // a slow reader drains the buffer: not stuck
            #expect(c.tick(at: clock.now, send: .seconds(2), bufferedBytes: buffered, outboundProgress: 1) != .close)
        }
        clock.advance(by: .seconds(1))
        _ = c.tick(at: clock.now, send: .seconds(2), bufferedBytes: buffered, outboundProgress: 1)
        clock.advance(by: .seconds(2))
        #expect(c.tick(at: clock.now, send: .seconds(2), bufferedBytes: buffered, outboundProgress: 1) == .close)
    }

    @Test func progressIsCountedBetweenTicks() {
        var c = Policy.Connection()
        let now = ManualClock().now
        #expect(c.tick(at: now, send: .seconds(2), bufferedBytes: nil, outboundProgress: 3) == .checkStreams(progressed: true, running: false))
        #expect(c.tick(at: now, send: .seconds(2), bufferedBytes: nil, outboundProgress: 3) == .checkStreams(progressed: false, running: false))
    }
}
