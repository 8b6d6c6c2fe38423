import NIOCore
import NIOEmbedded
import Testing
@testable import MeridianCompression

/// The order in which one loop compresses its bodies' pieces: the body under way before the ones waiting, and
/// every piece after the loop's other work.
struct PieceQueueTests {
    @Test func theBodyUnderWayGoesOnBeforeTheNextStarts() {
        let loop = EmbeddedEventLoop()
        let queue = PieceQueue.of(loop)
        #expect(PieceQueue.of(loop) === queue, "one queue per loop")
        var order: [String] = []
        func body(_ name: String, pieces: Int) -> () -> Void {
            var left = pieces
            func step() {
                left -= 1
                order.append("\(name)\(pieces - left)")
                if left > 0 { queue.enqueue(continuing: true, step) }
            }
            return step
        }
        loop.execute { order.append("io") }
        queue.enqueue(continuing: false, body("a", pieces: 3))
        queue.enqueue(continuing: false, body("b", pieces: 2))
        #expect(order.isEmpty, "nothing runs at once")
        loop.run()
        #expect(order == ["io", "a1", "a2", "a3", "b1", "b2"], "\(order)")
    }

    /// A long body steps behind the waiting ones after its turn, then goes on.
    @Test func aLongBodyLetsTheOthersGoAfterItsTurn() {
        let loop = EmbeddedEventLoop()
        let queue = PieceQueue.of(loop)
        var order: [String] = []
        func body(_ name: String, pieces: Int) -> () -> Void {
            var done = 0
            func step() {
                done += 1
                order.append("\(name)\(done)")
                if done < pieces { queue.enqueue(continuing: true, step) }
            }
            return step
        }
        let long = PieceQueue.turn + 4
        queue.enqueue(continuing: false, body("a", pieces: long))
        queue.enqueue(continuing: false, body("b", pieces: 2))
        loop.run()
        let first = (1...(PieceQueue.turn + 1)).map { "a\($0)" }
        #expect(order == first + ["b1", "b2"] + ((PieceQueue.turn + 2)...long).map { "a\($0)" }, "\(order)")
    }

    @Test func eachPieceIsItsOwnLoopTask() {
        let loop = EmbeddedEventLoop()
        let queue = PieceQueue.of(loop)
        var order: [String] = []
        queue.enqueue(continuing: false) {
            order.append("a1")
            loop.execute { order.append("other work queued by a1") }
            queue.enqueue(continuing: true) { order.append("a2") }
        }
        loop.run()
        #expect(order == ["a1", "other work queued by a1", "a2"], "\(order)")
    }
}
