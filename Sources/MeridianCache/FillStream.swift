internal import MeridianCore
internal import NIOCore

/// The body of a response being stored: read from the origin at the origin's pace into the entry's buffer, and written
/// to the client at the client's pace from what has arrived (nginx's `proxy_buffering` into its cache file). So a slow
/// client does not slow the fill the other requests are waiting for, and a client that leaves does not end it.
///
/// The buffer is the entry being kept, so decoupling costs no memory beyond it; once the body outgrows `max_body`
/// it is no longer kept and the origin is read at the client's pace again (at most `window` bytes ahead).
///
/// Confined to the response's event loop: the producer's writes, the client's writes and their completions all run
/// on it, which is what makes the unchecked `Sendable` safe.
final class FillStream: @unchecked Sendable {
    let loop: any EventLoop
    let limit: Int
    /// Everything received so far, while it fits `limit`.
    private(set) var kept: ByteBuffer?
    private var pending = CircularBuffer<ByteBuffer>()
    private var pendingBytes = 0
    private var write: BodyStream.Write?
    private var writing = false
    private var clientDone: EventLoopPromise<Void>?
    private var clientError: (any Error)?
    private var producerResult: Result<Void, any Error>?
    /// The producer waits on this while it is not keeping and the client is `window` behind.
    private var drained: EventLoopPromise<Void>?
    /// Called once when the body grew past `limit` (it will not be stored).
    var onOverflow: () -> Void = {}
    /// Called once when the origin's body ended: with the whole body when it was kept, nil otherwise.
    var onEnd: (ByteBuffer?) -> Void = { _ in }
    static let window = 64 * 1024

    init(loop: any EventLoop, limit: Int, expectedLength: Int?, allocator: ByteBufferAllocator) {
        self.loop = loop
        self.limit = limit
        self.kept = allocator.buffer(capacity: min(expectedLength ?? 16384, limit))
    }

    /// Starts reading the origin's body now, whether or not the client has asked for it yet.
    func start(_ inner: BodyStream) {
        inner.produce(loop) { [self] piece in received(piece) }.hop(to: loop).whenComplete { [self] result in
            producerResult = result
            if case .failure = result { kept = nil }
            onEnd(kept)
            pump()
        }
    }

    /// The client's side: the request layer calls this once the head is out.
    func attach(_ write: @escaping BodyStream.Write) -> EventLoopFuture<Void> {
        let done = loop.makePromise(of: Void.self)
        self.write = write
        clientDone = done
        if let clientError { done.fail(clientError) } else { pump() }
        return done.futureResult
    }

    /// The client left (before or while its body was written): the fill goes on if it is kept, else it stops.
    func clientLeft(_ error: any Error) {
        guard clientError == nil else { return }
        clientError = error
        pending.removeAll()
        pendingBytes = 0
        clientDone?.fail(error)
        drained?.fail(error)
        drained = nil
    }

    private func received(_ piece: ByteBuffer) -> EventLoopFuture<Void> {
        if kept != nil {
            if kept!.readableBytes + piece.readableBytes > limit {
                kept = nil
                onOverflow()
            } else {
                kept!.writeImmutableBuffer(piece)
            }
        }
        if let clientError { return kept != nil ? loop.makeSucceededVoidFuture() : loop.makeFailedFuture(clientError) }
        pending.append(piece)
        pendingBytes += piece.readableBytes
        pump()
        if kept != nil || pendingBytes <= Self.window { return loop.makeSucceededVoidFuture() }
        let promise = loop.makePromise(of: Void.self)
        drained = promise
        return promise.futureResult
    }

    private func pump() {
        guard let write, !writing, clientError == nil else { return }
        guard let piece = pending.popFirst() else {
            if let producerResult, let clientDone {
                self.clientDone = nil
                clientDone.completeWith(producerResult)
            }
            return
        }
        pendingBytes -= piece.readableBytes
        writing = true
        write(piece).hop(to: loop).whenComplete { [self] result in
            writing = false
            if case .failure(let error) = result {
                clientLeft(error)
                return
            }
            if pendingBytes <= Self.window, let drained {
                self.drained = nil
                drained.succeed()
            }
            pump()
        }
    }
}
