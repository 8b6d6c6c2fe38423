public import NIOCore
public import NIOHTTP1

/// A request's body as a pull-based stream on the connection's event loop, the same for a
/// Content-Length body, a chunked one (with trailers) and HTTP/2 DATA frames (with trailers).
///
/// The reader asks for the next piece with ``read(_:)``. Pieces the protocol delivers before they
/// are asked for wait here, up to ``highWatermark`` bytes; past that the protocol side is told to
/// stop (HTTP/1.1 stops reading the socket, HTTP/2 stops returning WINDOW_UPDATE credit), and it
/// is told to go on once the reader has taken them. So a slow reader never makes the server hold a
/// whole body. A body nobody reads is drained and discarded once the response is sent (within the
/// limits), as before there was a reader at all.
///
/// Confined to one event loop: every method is called on it (the protocol handler's loop), which
/// is what makes the unchecked `Sendable` safe; `Request` is `Sendable` and carries it.
public final class RequestBody: @unchecked Sendable {
    /// What a read gives.
    public enum Event {
        /// The next piece of the body, never empty.
        case piece(ByteBuffer)
        /// The body is complete; trailers when the client sent any (chunked or HTTP/2).
        case end(HTTPHeaders?)
        /// The body cannot be read to its end: too large, stopped arriving, malformed, or the
        /// client went away.
        case failure(RequestBodyError)
    }

    /// What the protocol side does when the reader wants more or has taken bytes.
    public protocol Source: AnyObject {
        /// The reader took `bytes` (HTTP/2 returns them as stream credit).
        func bodyConsumed(_ bytes: Int)
        /// The queue fell below the watermark after being full: deliver more (HTTP/1.1 resumes
        /// reading the socket).
        func bodyWantsMore()
        /// The first read: the body is wanted (HTTP/1.1 sends `100 Continue` if it was expected).
        func bodyRequested()
    }

    /// Stands for a protocol handler as a body's ``Source``: the body holds the link weakly (it may outlive the
    /// connection), the handler holds it strongly and is held by it unowned. A weak reference straight to the handler
    /// gave the handler a side table, and from then on every retain and release of it (dozens per request on
    /// HTTP/1.1, for the rest of the connection) took the Swift runtime's slow path.
    final class SourceLink: Source {
        private unowned let target: any Source
        init(_ target: any Source) { self.target = target }
        func bodyConsumed(_ bytes: Int) { target.bodyConsumed(bytes) }
        func bodyWantsMore() { target.bodyWantsMore() }
        func bodyRequested() { target.bodyRequested() }
    }

    enum State {
        case streaming
        case ended(HTTPHeaders?)
        case failed(RequestBodyError)
    }

    /// A body that has already ended empty: requests without one share it.
    public static let none = RequestBody(ended: true)

    /// Bytes held for a reader that has not asked yet before the protocol is told to stop.
    public static let highWatermark = 64 * 1024

    let eventLoop: (any EventLoop)?
    /// Weak: the body may outlive the connection. A handler passes its ``SourceLink``, not itself.
    weak var source: (any Source)?
    /// Largest body accepted: `limits.max_body_bytes`, or the route's own limit once routed.
    public internal(set) var maxBytes: Int
    private var state: State
    private var queue = CircularBuffer<ByteBuffer>(initialCapacity: 4)
    /// Bytes delivered and not yet taken by a reader.
    public private(set) var queuedBytes = 0
    private var waiting: ((Event) -> Void)?
    /// Nobody will read: pieces are dropped as they come (and credited at once).
    private(set) var discarding = false
    /// Told the source to stop (queue full) and not yet to go on.
    private(set) var paused = false
    /// Inside `deliver`: reads made by handlers are served by its loop.
    private var delivering = false
    /// The last queued buffer is one this body allocated (small pieces are merged into it).
    private var lastIsOurs = false
    /// Bytes the client has sent so far.
    public private(set) var receivedBytes = 0
    /// A reader asked at least once.
    public private(set) var hasReader = false
    /// Bytes at the front of the queue that ``peek(upTo:on:)`` put back: credited to the protocol already.
    private var precredited = 0

    private init(ended: Bool) {
        self.eventLoop = nil
        self.maxBytes = 0
        self.state = .ended(nil)
    }

    /// A body that will arrive on `eventLoop`, fed by `source`.
    public init(eventLoop: any EventLoop, maxBytes: Int, source: (any Source)?) {
        self.eventLoop = eventLoop
        self.maxBytes = maxBytes
        self.source = source
        self.state = .streaming
    }

    // MARK: - Reader

    /// Whether the whole body has arrived (or failed): nothing more will come from the client.
    public var isComplete: Bool {
        if case .streaming = state { return false }
        return true
    }

    /// Whether the body failed (over its limit, stalled, malformed, or the client went away).
    public var hasFailed: Bool {
        if case .failed = state { return true }
        return false
    }

    /// The trailers, once the body has ended with some.
    public var trailers: HTTPHeaders? {
        if case .ended(let t) = state { return t }
        return nil
    }

    /// Asks for the next piece; `handler` runs on the event loop, at once when a piece is
    /// waiting. One read at a time. A handler that reads again from inside itself does not
    /// recurse: the next piece is handed over when it returns (a body of a million 1-byte chunks
    /// is a loop, not a million stack frames).
    public func read(_ handler: @escaping (Event) -> Void) {
        guard let eventLoop else {
            handler(.end(nil))  // `RequestBody.none`: shared, so never mutated
            return
        }
        eventLoop.preconditionInEventLoop()
        guard waiting == nil else {
            // A reader's mistake must not take the server down: the second read fails.
            assertionFailure("RequestBody.read called while a read is pending")
            handler(.failure(.malformed("a second read while one was pending")))
            return
        }
        waiting = handler
        if !hasReader {
            hasReader = true
            if case .streaming = state { source?.bodyRequested() }
        }
        if !delivering { deliver() }
    }

    /// Serves the waiting reader from the queue (or the end) until it stops asking or the queue
    /// is empty; reads made by a handler land in `waiting` and are served by this loop.
    private func deliver() {
        delivering = true
        defer { delivering = false }
        while let handler = waiting {
            if discarding {
                waiting = nil
                handler(.failure(.abandoned))
                continue
            }
            if let piece = queue.popFirst() {
                waiting = nil
                took(piece.readableBytes)
                handler(.piece(piece))
                continue
            }
            switch state {
            case .streaming:
                if paused { resume() }
                if queue.isEmpty { return }  // the reader waits for `append`
            case .ended(let trailers):
                waiting = nil
                handler(.end(trailers))
            case .failed(let error):
                waiting = nil
                handler(.failure(error))
            }
        }
    }

    /// Reads the whole body, piece by piece, handing each to `each` and waiting for the future it
    /// returns before asking for the next. Completes with the trailers at the end.
    public func consume(
        on eventLoop: any EventLoop, _ each: @escaping @Sendable (ByteBuffer) -> EventLoopFuture<Void>
    ) -> EventLoopFuture<HTTPHeaders?> {
        let promise = eventLoop.makePromise(of: HTTPHeaders?.self)
        consumeNext(each, promise: promise)
        return promise.futureResult
    }

    private func consumeNext(_ each: @escaping @Sendable (ByteBuffer) -> EventLoopFuture<Void>, promise: EventLoopPromise<HTTPHeaders?>) {
        read { event in
            switch event {
            case .piece(let piece):
                each(piece).hop(to: self.eventLoop!).whenComplete { result in
                    switch result {
                    case .success: self.consumeNext(each, promise: promise)
                    case .failure(let error): promise.fail(error)
                    }
                }
            case .end(let trailers):
                promise.succeed(trailers)
            case .failure(let error):
                promise.fail(error)
            }
        }
    }

    /// Gathers the whole body into one buffer of at most `maxBytes` (a larger body fails with
    /// ``RequestBodyError/tooLarge``).
    public func collect(upTo maxBytes: Int, on eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer> {
        let promise = eventLoop.makePromise(of: ByteBuffer.self)
        var gathered = ByteBuffer()
        func next() {
            read { event in
                switch event {
                case .piece(var piece):
                    guard gathered.readableBytes + piece.readableBytes <= maxBytes else {
                        self.discard()
                        promise.fail(RequestBodyError.tooLarge(limit: maxBytes))
                        return
                    }
                    gathered.writeBuffer(&piece)
                    next()
                case .end:
                    promise.succeed(gathered)
                case .failure(let error):
                    promise.fail(error)
                }
            }
        }
        next()
        return promise.futureResult
    }

    /// Reads the body's first `limit` bytes (all of it when shorter) and puts them back, so the next reader gets
    /// the body from its start: for middleware that inspects a body before the action streams it (the WAF).
    /// Completes with those bytes (possibly a little more than `limit`: whole pieces) and whether they are the
    /// whole body. The bytes are credited to the protocol once, when first read, not again when re-read.
    public func peek(upTo limit: Int, on eventLoop: any EventLoop) -> EventLoopFuture<(bytes: ByteBuffer, complete: Bool)> {
        let promise = eventLoop.makePromise(of: (bytes: ByteBuffer, complete: Bool).self)
        var taken: [ByteBuffer] = []
        var total = 0
        func putBack() {
            for piece in taken.reversed() { queue.prepend(piece) }
            queuedBytes += total
            precredited += total
            if taken.count == queue.count { lastIsOurs = false }
        }
        func gathered() -> ByteBuffer {
            var all = ByteBufferAllocator().buffer(capacity: total)
            for piece in taken { all.writeImmutableBuffer(piece) }
            return all
        }
        func next() {
            guard total < limit else {
                putBack()
                promise.succeed((gathered(), false))
                return
            }
            read { event in
                switch event {
                case .piece(let piece):
                    taken.append(piece)
                    total += piece.readableBytes
                    next()
                case .end:
                    putBack()
                    promise.succeed((gathered(), true))
                case .failure(let error):
                    promise.fail(error)
                }
            }
        }
        next()
        return promise.futureResult
    }

    /// Nobody will read the rest: what is queued is dropped and what comes is dropped as it comes.
    public func discard() {
        guard !discarding, eventLoop != nil else { return }
        discarding = true
        let dropped = queuedBytes - precredited
        queue.removeAll()
        queuedBytes = 0
        precredited = 0
        if dropped > 0 { source?.bodyConsumed(dropped) }
        if paused { resume() }
        // A reader still at it must not take what it read for the whole body.
        if waiting != nil, !delivering { deliver() }
    }

    private func took(_ bytes: Int) {
        queuedBytes -= bytes
        let replayed = min(bytes, precredited)
        precredited -= replayed
        if bytes > replayed { source?.bodyConsumed(bytes - replayed) }
        if paused && queuedBytes < Self.highWatermark { resume() }
    }

    private func resume() {
        paused = false
        source?.bodyWantsMore()
    }

    // MARK: - Protocol side

    /// A piece arrived from the client. Answers false when the body is over its limit (the caller
    /// stops delivering; the body has failed with ``RequestBodyError/tooLarge``).
    @discardableResult
    func append(_ piece: ByteBuffer) -> Bool {
        guard case .streaming = state else { return true }
        let n = piece.readableBytes
        receivedBytes += n
        if receivedBytes > maxBytes {
            fail(.tooLarge(limit: maxBytes))
            return false
        }
        guard n > 0 else { return true }
        if discarding {
            source?.bodyConsumed(n)
            return true
        }
        if let handler = waiting, !delivering, queue.isEmpty {
            waiting = nil
            source?.bodyConsumed(n)
            delivering = true
            handler(.piece(piece))
            delivering = false
            if waiting != nil { deliver() }
            return true
        }
        enqueue(piece)
        queuedBytes += n
        if queuedBytes >= Self.highWatermark { paused = true }
        if waiting != nil, !delivering { deliver() }
        return true
    }

    /// Queues a piece; small pieces are copied into the last queued buffer of ours, so a flood
    /// of tiny chunks (each a slice keeping its whole read buffer alive) costs what it carries.
    private func enqueue(_ piece: ByteBuffer) {
        let n = piece.readableBytes
        if n < Self.smallPiece {
            if lastIsOurs, var last = queue.popLast() {
                if last.readableBytes + n <= Self.mergeLimit {
                    last.writeImmutableBuffer(piece)
                    queue.append(last)
                    return
                }
                queue.append(last)
            }
            var own = ByteBufferAllocator().buffer(capacity: Self.mergeLimit)
            own.writeImmutableBuffer(piece)
            queue.append(own)
            lastIsOurs = true
            return
        }
        queue.append(piece)
        lastIsOurs = false
    }

    static let smallPiece = 2048
    static let mergeLimit = 16 * 1024

    /// Whether the protocol should hold further pieces back for now.
    var wantsNoMore: Bool { paused && !discarding }

    /// The body ended (END_STREAM, the last chunk, or Content-Length reached).
    func finish(trailers: HTTPHeaders?) {
        guard case .streaming = state else { return }
        state = .ended(trailers)
        if waiting != nil, !delivering { deliver() }
    }

    /// The body cannot complete. Pieces already queued are dropped: a reader must not mistake a
    /// cut body for a whole one.
    func fail(_ error: RequestBodyError) {
        guard case .streaming = state else { return }
        state = .failed(error)
        queue.removeAll()
        queuedBytes = 0
        paused = false
        if waiting != nil, !delivering { deliver() }
    }
}

/// Why a request body could not be read to its end.
public struct RequestBodyError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Kind: Equatable, Sendable {
        case tooLarge(Int)
        case timedOut
        case malformed(String)
        case clientGone
        case abandoned
    }

    let kind: Kind

    /// Over `limits.max_body_bytes` (413 when the response has not begun).
    public static func tooLarge(limit: Int) -> RequestBodyError { .init(kind: .tooLarge(limit)) }
    /// No bytes for `timeouts.body_read` (408).
    public static let timedOut = RequestBodyError(kind: .timedOut)
    /// The framing was broken (400).
    public static func malformed(_ reason: String) -> RequestBodyError { .init(kind: .malformed(reason)) }
    /// The connection closed or the stream was reset.
    public static let clientGone = RequestBodyError(kind: .clientGone)
    /// The response ended before the reader finished: the rest of the body is being discarded.
    public static let abandoned = RequestBodyError(kind: .abandoned)

    /// The status a response would carry for this failure.
    public var status: HTTPResponseStatus {
        switch kind {
        case .tooLarge: return .payloadTooLarge
        case .timedOut: return .requestTimeout
        case .malformed: return .badRequest
        case .clientGone: return HTTPResponseStatus(statusCode: 499)
        case .abandoned: return .internalServerError
        }
    }

    public var description: String {
        switch kind {
        case .tooLarge(let limit): return "request body exceeds \(limit) bytes"
        case .timedOut: return "request body not received in time"
        case .malformed(let reason): return reason
        case .clientGone: return "client went away while sending the request body"
        case .abandoned: return "the response ended before the request body was read"
        }
    }
}
