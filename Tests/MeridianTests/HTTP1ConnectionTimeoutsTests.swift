import Testing

@testable import MeridianCore

/// The HTTP/1.1 timeout rules as a pure state machine, driven by a manual clock: no sockets, no
/// sleeping.
@Suite struct HTTP1ConnectionTimeoutsTests {
    typealias Machine = HTTP1ConnectionTimeouts<ManualClock>
    static let limits = Machine.Limits(headerRead: .seconds(10), idle: .seconds(60), bodyRead: .seconds(30), send: .seconds(20))

    @Test func idleThenHeaderReadFromTheFirstByte() {
        var clock = ManualClock()
        var m = Machine(now: clock.now)
        #expect(m.deadline(Self.limits)?.kind == .idle)
        clock.advance(by: .seconds(59))
        #expect(m.expired(at: clock.now, Self.limits) == nil)
        m.headStarted(at: clock.now)
        // A trickling client gains nothing: bytes of the head do not move header_read.
        for _ in 0..<9 {
            clock.advance(by: .seconds(1))
            m.received(at: clock.now)
        }
        #expect(m.expired(at: clock.now, Self.limits) == nil)
        clock.advance(by: .seconds(1))
        #expect(m.expired(at: clock.now, Self.limits) == .headerRead)
    }

    @Test func bodyReadRunsFromTheLastByteAndNotWhileTheReaderIsBehind() {
        var clock = ManualClock()
        var m = Machine(now: clock.now)
        m.headStarted(at: clock.now)
        m.requestStarted(bodyExpected: true, at: clock.now)
        clock.advance(by: .seconds(25))
        m.received(at: clock.now)
        clock.advance(by: .seconds(25))
        #expect(m.expired(at: clock.now, Self.limits) == nil, "each byte restarts body_read")
        m.bodyPaused(true, at: clock.now)
        #expect(m.deadline(Self.limits) == nil)
        clock.advance(by: .seconds(300))
        #expect(m.expired(at: clock.now, Self.limits) == nil, "a slow reader is not the client's timeout")
        m.bodyPaused(false, at: clock.now)
        clock.advance(by: .seconds(29))
        #expect(m.expired(at: clock.now, Self.limits) == nil, "resuming starts the clock afresh")
        clock.advance(by: .seconds(1))
        #expect(m.expired(at: clock.now, Self.limits) == .bodyRead)
    }

    @Test func noClockWhileTheResponderWorksThenIdleAgain() {
        var clock = ManualClock()
        var m = Machine(now: clock.now)
        m.requestStarted(bodyExpected: true, at: clock.now)
        m.bodyEnded()
        #expect(m.phase == .responding && m.deadline(Self.limits) == nil)
        clock.advance(by: .seconds(3600))
        m.requestDone(at: clock.now)
        #expect(m.deadline(Self.limits)?.kind == .idle)
        clock.advance(by: .seconds(60))
        #expect(m.expired(at: clock.now, Self.limits) == .idle)
    }

    @Test func sendWinsWhileTheSocketTakesNothing() {
        var clock = ManualClock()
        var m = Machine(now: clock.now)
        m.requestStarted(bodyExpected: false, at: clock.now)
        m.writabilityChanged(false, at: clock.now)
        #expect(m.deadline(Self.limits)?.kind == .send)
        clock.advance(by: .seconds(19))
        m.writabilityChanged(true, at: clock.now)
        #expect(m.deadline(Self.limits) == nil)
        m.writabilityChanged(false, at: clock.now)
        clock.advance(by: .seconds(20))
        #expect(m.expired(at: clock.now, Self.limits) == .send)
    }

    @Test func aReloadChangesTheLimitsOfTheRunningClock() {
        var clock = ManualClock()
        let m = Machine(now: clock.now)
        clock.advance(by: .seconds(5))
        var reloaded = Self.limits
        reloaded.idle = .seconds(5)
        #expect(m.expired(at: clock.now, Self.limits) == nil)
        #expect(m.expired(at: clock.now, reloaded) == .idle)
    }
}
