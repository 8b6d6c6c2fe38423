import Testing

@testable import MeridianCore

/// The HTTP/1.1 timeout rules as a pure state machine, driven by a manual clock: no sockets, no
/// sleeping.
@Suite struct HTTP1ConnectionTimeoutsTests {
    typealias Machine = HTTP1ConnectionTimeouts<ManualClock>
    static let limits = Machine.Limits(headerRead: .seconds(10), idle: .seconds(60), bodyRead: .seconds(30), send: .seconds(20))

    @Test func idleThenHeaderReadFromTheFirstByte() {
        var clock = ManualClock()
        var m = Machine(limits: Self.limits, now: clock.now)
        #expect(m.deadline()?.kind == .idle)
        clock.advance(by: .seconds(59))
        #expect(m.expired(at: clock.now) == nil)
        m.headStarted(at: clock.now)
        // A trickling client gains nothing: bytes of the head do not move header_read.
        for _ in 0..<9 {
            clock.advance(by: .seconds(1))
            m.received(at: clock.now)
        }
        #expect(m.expired(at: clock.now) == nil)
        clock.advance(by: .seconds(1))
        #expect(m.expired(at: clock.now) == .headerRead)
    }

    @Test func bodyReadRunsFromTheLastByteAndNotWhileTheReaderIsBehind() {
        var clock = ManualClock()
        var m = Machine(limits: Self.limits, now: clock.now)
        m.headStarted(at: clock.now)
        m.requestStarted(bodyExpected: true, at: clock.now)
        clock.advance(by: .seconds(25))
        m.received(at: clock.now)
        clock.advance(by: .seconds(25))
        #expect(m.expired(at: clock.now) == nil, "each byte restarts body_read")
        m.bodyPaused(true, at: clock.now)
        #expect(m.deadline() == nil)
        clock.advance(by: .seconds(300))
        #expect(m.expired(at: clock.now) == nil, "a slow reader is not the client's timeout")
        m.bodyPaused(false, at: clock.now)
        clock.advance(by: .seconds(29))
        #expect(m.expired(at: clock.now) == nil, "resuming starts the clock afresh")
        clock.advance(by: .seconds(1))
        #expect(m.expired(at: clock.now) == .bodyRead)
    }

    @Test func noClockWhileTheResponderWorksThenIdleAgain() {
        var clock = ManualClock()
        var m = Machine(limits: Self.limits, now: clock.now)
        m.requestStarted(bodyExpected: true, at: clock.now)
        m.bodyEnded()
        #expect(m.phase == .responding && m.deadline() == nil)
        clock.advance(by: .seconds(3600))
        m.requestDone(at: clock.now)
        #expect(m.deadline()?.kind == .idle)
        clock.advance(by: .seconds(60))
        #expect(m.expired(at: clock.now) == .idle)
    }

    @Test func sendWinsWhileTheSocketTakesNothing() {
        var clock = ManualClock()
        var m = Machine(limits: Self.limits, now: clock.now)
        m.requestStarted(bodyExpected: false, at: clock.now)
        m.writabilityChanged(false, at: clock.now)
        #expect(m.deadline()?.kind == .send)
        clock.advance(by: .seconds(19))
        m.writabilityChanged(true, at: clock.now)
        #expect(m.deadline() == nil)
        m.writabilityChanged(false, at: clock.now)
        clock.advance(by: .seconds(20))
        #expect(m.expired(at: clock.now) == .send)
    }

    @Test func aReloadChangesTheLimitsOfTheRunningClock() {
        var clock = ManualClock()
        var m = Machine(limits: Self.limits, now: clock.now)
        clock.advance(by: .seconds(5))
        m.limits.idle = .seconds(5)
        #expect(m.expired(at: clock.now) == .idle)
    }
}
