internal import NIOCore
internal import NIOPosix

/// The order in which one event loop compresses its bodies, a piece at a time: the body under way goes on before
/// the next one starts, and the loop's other work (every connection's reads and writes) runs between any two pieces.
///
/// Yielding with a plain `execute` after each piece made the loop take turns round-robin over every body being
/// compressed: with 32 concurrent 100 KiB responses each 16 KiB piece found its deflate state (256 KiB at full
/// size) cold in the cache, and the hash-table inserts cost twice what nginx's do (nginx compresses a response
/// that fits its buffers in one go); `perf record` of `bench/compression.sh`'s on-the-fly case. In arrival
/// order, one state is hot at a time and no piece waits longer than before: the loop is never held for more than a
/// piece either way. A body whose write is pending (a slow client) is not in the queue, so it holds up no other.
///
/// A long body goes first for ``turn`` pieces in a row (256 KiB of input: a typical compressible response whole),
/// then steps behind the bodies waiting, so a large file cannot hold up the others' compression for its length.
///
/// One per event-loop thread; confined to it, which makes the unchecked `Sendable` safe.
final class PieceQueue: @unchecked Sendable {
    static let turn = 16
    private let eventLoop: any EventLoop
    private var steps = CircularBuffer<(continuation: Bool, run: () -> Void)>()
    private var scheduled = false
    /// Continuations put first since a body last took its turn.
    private var streak = 0

    private init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    private static let perThread = ThreadSpecificVariable<PieceQueue>()

    /// The queue of `eventLoop` (shared by the bodies of its thread; a body started from elsewhere gets one of its
    /// own, which orders nothing but works the same).
    static func of(_ eventLoop: any EventLoop) -> PieceQueue {
        guard eventLoop.inEventLoop else { return PieceQueue(eventLoop) }
        if let queue = perThread.currentValue, queue.eventLoop === eventLoop { return queue }
        let queue = PieceQueue(eventLoop)
        perThread.currentValue = queue
        return queue
    }

    /// Runs `step` after the loop's other work: `continuing` (the body that ran the last piece) before every body
    /// waiting, else after them.
    func enqueue(continuing: Bool, _ step: @escaping () -> Void) {
        if continuing && streak < Self.turn {
            streak += 1
            steps.prepend((true, step))
        } else {
            steps.append((false, step))
        }
        scheduleIfNeeded()
    }

    private func scheduleIfNeeded() {
        guard !scheduled, !steps.isEmpty else { return }
        scheduled = true
        eventLoop.execute { [self] in
            scheduled = false
            guard let step = steps.popFirst() else { return }
            if !step.continuation { streak = 0 }  // a body's turn begins
            step.run()
            scheduleIfNeeded()
        }
    }
}
