internal import Atomics
public import MeridianConfig
public import MeridianCore
internal import NIOConcurrencyHelpers
public import NIOCore
public import NIOHTTP1
public import NIOPosix

/// `compression:` on a route: the response body compressed on the fly with the best coding the client accepts
/// (``AcceptEncoding``), when ``CompressionPolicy`` says it may be (a compressible type, long enough, not already
/// encoded, not a Range or `no-transform` response).
///
/// What runs where: a body of known length up to ``inlineLimit`` is compressed on the event loop at once (at the
/// default levels 40 KiB take about 1 ms with zlib, less than half that with libdeflate); a gzipped buffer or file
/// up to ``wholeLimit`` is compressed in one call at its turn in the loop's ``PieceQueue``; longer ones, brotli and
/// streams go through the compressor 16 KiB at a time as a streamed body, so the loop serves other connections
/// between pieces and the client's reading paces the work. A file's compressed variant is kept in ``VariantCache``
/// (keyed by path, ETag and coding): a hot file is compressed once. A streamed body (a proxied response, SSE) is flushed through the compressor after each piece
/// the producer writes when it is an event stream or the piece is small, so no event waits for the next.
public struct CompressionMiddleware: Middleware {
    let policy: CompressionPolicy
    let threadPool: NIOThreadPool
    /// Nil when the route keeps no variants (`cache: false`).
    let cache: VariantCache?
    let stats: CompressionStats
    static let inlineLimit = 32 * 1024
    static let pieceSize = 16 * 1024
    /// A body up to this long that is all at hand (a buffer, a file read in one go) is gzipped in one call by
    /// libdeflate (``WholeGzip``) at its turn in the loop's ``PieceQueue``, instead of 16 KiB at a time by zlib: 2.4x
    /// faster, so the loop is held about as long as for ~3 of zlib's pieces, once per body (nginx holds it for the
    /// whole body at zlib's speed). Brotli, longer bodies and streams still go a piece at a time.
    static let wholeLimit = 128 * 1024

    public init(_ config: Configuration.Compression, threadPool: NIOThreadPool, cache: VariantCache, stats: CompressionStats) {
        var c = CompressionPolicy.Configuration(
            gzipLevel: config.encodings.contains("gzip") ? config.gzipLevel : nil,
            brotliQuality: config.encodings.contains("br") ? config.brotliLevel : nil,
            minimumLength: config.minLength
        )
        if config.types != Configuration.Compression.defaultTypes {
            c.contentTypes = config.types.compactMap { MediaTypePattern($0) }
        }
        self.policy = CompressionPolicy(c)
        self.threadPool = threadPool
        self.cache = config.cache ? cache : nil
        self.stats = stats
    }

    public func respond(to request: Request, context: RequestContext, next: any Responder) -> ResponseFuture {
        let accept = AcceptEncoding(fieldValues: request.fields["accept-encoding"])
        let hasRange = request.fields.contains(name: "range")
        let isHead = request.isHead
        let path = String(request.path)
        return next.respond(to: request, context: context).map { response in
            transform(response, accept: accept, hasRange: hasRange, isHead: isHead, path: path, context: context)
        }
    }

    func transform(
        _ response: Response, accept: AcceptEncoding, hasRange: Bool, isHead: Bool, path: String, context: RequestContext
    ) -> Response {
        guard response.upgrade == nil else { return response }
        let fields = response.headers  // (read once: a proxied response's are decoded from its lines when read)
        var headers = fields.map { (name: $0.name, value: $0.value) }
        let status = Int(response.status.code)
        let length: Int?
        switch response.body {
        case .stream(let s): length = s.length
        case .empty: length = isHead ? fields.first(name: "content-length").flatMap { Int($0) } : 0
        default: length = response.body.length
        }
        let decision = policy.decide(status: status, headers: headers, bodyLength: length, acceptEncoding: accept, requestHasRange: hasRange)
        if decision.coding != nil, decision.coding != .identity, response.statusAllowsBody { stats.counters(decision.coding!).responses.wrappingIncrement(ordering: .relaxed) }
        // Most answers are left as they are (no Vary to add): they keep their headers, not a rebuilt copy.
        guard decision.coding.map({ $0 != .identity }) == true || decision.variesByAcceptEncoding else { return response }
        decision.apply(to: &headers, status: status)
        var out = response
        out.headers = HTTPHeaders(headers.map { ($0.name, $0.value) })
        guard let coding = decision.coding, coding != .identity, response.statusAllowsBody else { return out }
        context.annotate(EncodingAnnotation.self, coding.token)
        let counters = stats.counters(coding)
        switch response.body {
        case .empty:
            return out  // HEAD: the headers of the compressed variant, no body
        case .buffer(let b) where b.readableBytes <= Self.inlineLimit:
            let started = NIODeadline.now()
            var body: ByteBuffer
            if let whole = policy.configuration.makeWholeEncoder(for: coding) {
                body = whole(b, context.allocator)
            } else {
                guard var compressor = policy.configuration.makeCompressor(for: coding, expectedLength: b.readableBytes) else { return response }
                body = compressor.compress(b, allocator: context.allocator)
                var end = compressor.finish(allocator: context.allocator)
                body.writeBuffer(&end)
            }
            counters.record(in: b.readableBytes, out: body.readableBytes, since: started)
            out.body = .buffer(body)
            return out
        case .buffer(let b):
            out.body = .stream(Self.pieces(of: b, coding: coding, policy: policy, counters: counters))
            return out
        case .file(let file):
            let etag = fields.first(name: "etag") ?? ""
            let key = VariantCache.Key(path: path, etag: etag, length: file.length, coding: coding)
            if !etag.isEmpty, let cached = cache?.get(key) {
                counters.cacheHits.wrappingIncrement(ordering: .relaxed)
                out.body = .buffer(cached)
                out.headers.replaceOrAdd(name: "content-length", value: String(cached.readableBytes))
                return out
            }
            out.body = .stream(
                Self.file(file, coding: coding, policy: policy, counters: counters, threadPool: threadPool, keep: etag.isEmpty ? nil : cache.map { ($0, key) })
            )
            return out
        case .stream(let inner):
            let flushEach = fields.first(name: "content-type")?.lowercased().hasPrefix("text/event-stream") == true
            out.body = .stream(Self.stream(inner, coding: coding, policy: policy, counters: counters, flushEach: flushEach))
            return out
        case .parts:
            return response  // a multipart Range body: the policy refuses Range, this is not reached
        }
    }

    /// A long buffer, 16 KiB at a time: the loop serves others between pieces.
    static func pieces(of buffer: ByteBuffer, coding: ContentCoding, policy: CompressionPolicy, counters: CompressionStats.Counters) -> BodyStream {
        BodyStream { eventLoop, write in
            // The zlib state (256 KiB at full size) only if the body goes a piece at a time: made at its first piece.
            let configuration = policy.configuration
            let pump = CompressionPump(
                eventLoop: eventLoop, compressor: { configuration.makeCompressor(for: coding, expectedLength: buffer.readableBytes) },
                whole: configuration.makeWholeEncoder(for: coding), write: write, counters: counters, keep: nil
            )
            pump.queue.enqueue(continuing: false) { pump.feed(buffer, last: true) {} }
            return pump.done.futureResult
        }
    }

    /// A file read up to 1 MiB at a time (on the loop when the bytes are in the page cache, else on the thread pool)
    /// and compressed on the loop 16 KiB at a time (each piece a fraction of a millisecond at the default levels);
    /// the whole variant is kept when it is small enough for the cache. The compressor is made when the first bytes
    /// are at hand and let go as soon as the last are compressed.
    static func file(
        _ file: FileSlice, coding: ContentCoding, policy: CompressionPolicy, counters: CompressionStats.Counters, threadPool: NIOThreadPool,
        keep: (VariantCache, VariantCache.Key)?
    ) -> BodyStream {
        BodyStream { eventLoop, write in
            let configuration = policy.configuration
            let pump = CompressionPump(
                eventLoop: eventLoop, compressor: { configuration.makeCompressor(for: coding, expectedLength: file.length) },
                whole: configuration.makeWholeEncoder(for: coding), write: write, counters: counters, keep: keep.flatMap { $0.0.accepts(length: file.length) ? $0 : nil }
            )
            pump.readFile(file, from: 0, threadPool: threadPool)
            return pump.done.futureResult
        }
    }

    /// A streamed body through the compressor: each piece the producer writes goes in; the output goes out
    /// (flushed after each piece for an event stream or a small piece, so no event waits for the next).
    static func stream(
        _ inner: BodyStream, coding: ContentCoding, policy: CompressionPolicy, counters: CompressionStats.Counters, flushEach: Bool
    ) -> BodyStream {
        BodyStream(trailers: inner.trailers) { eventLoop, write in
            guard var compressor = policy.configuration.makeCompressor(for: coding, expectedLength: inner.length) else {
                return inner.produce(eventLoop, write)
            }
            let allocator = ByteBufferAllocator()
            final class Box: @unchecked Sendable {  // confined to the loop: produce and its writes run on it
                var compressor: any StreamingCompressor
                init(_ c: any StreamingCompressor) { compressor = c }
            }
            let box = Box(compressor)
            _ = compressor
            return inner.produce(eventLoop) { piece in
                let started = NIODeadline.now()
                var output = box.compressor.compress(piece, allocator: allocator)
                if flushEach || piece.readableBytes < 4096 {
                    var flushed = box.compressor.flush(allocator: allocator)
                    output.writeBuffer(&flushed)
                }
                counters.record(in: piece.readableBytes, out: output.readableBytes, since: started)
                return output.readableBytes > 0 ? write(output) : eventLoop.makeSucceededVoidFuture()
            }.flatMap {
                let end = box.compressor.finish(allocator: allocator)
                counters.record(in: 0, out: end.readableBytes, since: .now())
                return write(end)
            }
        }
    }
}

enum CompressionFailure: Error {
    case noCompressor
    case shortRead
}

/// The access log's `encoding` field: the content coding a response was compressed with.
public enum EncodingAnnotation: RecordAnnotationKey {
    public typealias Value = String
    public static let name = "encoding"
}

/// Feeds bodies through one compressor 16 KiB at a time. Output is gathered until there is `writeSize` of it (or
/// the input runs out), then written, going on when the write completes (the client's reading paces the work);
/// between pieces that wrote nothing the pump yields to the loop (``PieceQueue``: the body under way goes first), so
/// it never holds it for more than one piece.
/// deflate gives back little per 16 KiB piece, so writing each piece's output made ~7 chunk writes for a 100 KiB
/// file where nginx makes 2.
///
/// The compressor (a deflate state is 256 KiB at full size) exists only while the body is being compressed: made at
/// the first piece, let go at the last. Made when the response started, 32 concurrent responses held 32 states and
/// 32 input buffers while the queue compressed one at a time, and each state went cold in the cache between its
/// pieces (nginx compresses a response that fits its buffers in one go, in memory its request pool reuses).
/// Confined to the response's event loop: every call is made on it, which is what makes the unchecked `Sendable`
/// safe.
final class CompressionPump: @unchecked Sendable {
    let eventLoop: any EventLoop
    let done: EventLoopPromise<Void>
    private let makeCompressor: () -> (any StreamingCompressor)?
    /// The one-call encoder for a body that comes whole and within ``CompressionMiddleware/wholeLimit``.
    private let whole: WholeEncoder?
    /// Made at the first piece, let go after the last.
    private var compressor: (any StreamingCompressor)?
    private let write: BodyStream.Write
    private let counters: CompressionStats.Counters
    private let allocator = ByteBufferAllocator()
    /// Where the whole compressed variant goes, for the cache.
    private let keep: (VariantCache, VariantCache.Key)?
    private var kept: ByteBuffer?
    /// Compressed bytes not yet written.
    private var pending: ByteBuffer?
    /// Where the pump waits for its next piece's turn.
    let queue: PieceQueue
    static let readSize = 1 << 20
    static let writeSize = 16 * 1024

    init(
        eventLoop: any EventLoop, compressor: @escaping () -> (any StreamingCompressor)?, whole: WholeEncoder? = nil,
        write: @escaping BodyStream.Write, counters: CompressionStats.Counters, keep: (VariantCache, VariantCache.Key)?
    ) {
        self.eventLoop = eventLoop
        self.done = eventLoop.makePromise(of: Void.self)
        self.makeCompressor = compressor
        self.whole = whole
        self.write = write
        self.counters = counters
        self.keep = keep
        self.queue = PieceQueue.of(eventLoop)
        if keep != nil { kept = ByteBufferAllocator().buffer(capacity: 4096) }
    }

    /// Compresses `input` piece by piece; `last`: the body ends with it. `then` runs once it has all been written
    /// (not when the body ended: `done` completes then).
    func feed(_ input: ByteBuffer, last: Bool, then: @escaping @Sendable () -> Void) {
        if compressor == nil, last, let whole, input.readableBytes <= CompressionMiddleware.wholeLimit {
            // The whole body, and nothing of it fed yet (a fed body keeps its compressor until its end).
            let started = NIODeadline.now()
            let output = whole(input, allocator)
            counters.record(in: input.readableBytes, out: output.readableBytes, since: started)
            if kept != nil { kept = output }  // a buffer of its own, for the output alone: the cache keeps it as it is
            writeOut(output, remaining: ByteBuffer(), end: true, last: last, then: then)
            return
        }
        if compressor == nil {
            guard let made = makeCompressor() else {
                done.fail(CompressionFailure.noCompressor)
                return
            }
            compressor = made
        }
        var rest = input
        let started = NIODeadline.now()
        let piece = rest.readSlice(length: min(CompressionMiddleware.pieceSize, rest.readableBytes)) ?? ByteBuffer()
        var output = compressor!.compress(piece, allocator: allocator)
        let end = last && rest.readableBytes == 0
        if end {
            var tail = compressor!.finish(allocator: allocator)
            output.writeBuffer(&tail)
            compressor = nil  // its memory goes back now, not when the last write completes
        }
        counters.record(in: piece.readableBytes, out: output.readableBytes, since: started)
        kept?.writeImmutableBuffer(output)
        let remaining = rest
        if pending != nil {
            pending!.writeBuffer(&output)
            output = pending!
            pending = nil
        }
        if !end, remaining.readableBytes > 0, output.readableBytes < Self.writeSize {
            // Not enough to be worth a write yet, and more input at hand: the next piece, after the loop's other work
            // and before other bodies' pieces.
            pending = output
            queue.enqueue(continuing: true) { [self] in feed(remaining, last: last, then: then) }
            return
        }
        writeOut(output, remaining: remaining, end: end, last: last, then: then)
    }

    /// Writes compressed bytes; when the write completes, the body ends (`end`), `then` runs (the input ran out), or
    /// the next piece of `remaining` is fed.
    private func writeOut(_ output: ByteBuffer, remaining: ByteBuffer, end: Bool, last: Bool, then: @escaping @Sendable () -> Void) {
        write(output).hop(to: eventLoop).whenComplete { [self] result in
            switch result {
            case .failure(let error):
                done.fail(error)
            case .success where end:
                if let keep, let kept { keep.0.put(keep.1, kept) }
                done.succeed()
            case .success where remaining.readableBytes == 0:
                then()
            case .success:
                feed(remaining, last: last, then: then)
            }
        }
    }

    /// Reads `file` from `offset` and feeds it, read after read. At the body's turn in the queue the read is tried
    /// on the loop, answered only from the page cache (preadv2 `RWF_NOWAIT`: it never waits for the disk), so the
    /// bytes are in the CPU's cache when they are compressed right after; what is not cached is read on the thread
    /// pool, and the body queues again. `bench/compression.sh`'s file is always cached: the hop to the thread pool
    /// and back (two thread wake-ups per response) was ~3% of the server's CPU there.
    func readFile(_ file: FileSlice, from offset: Int, threadPool: NIOThreadPool) {
        let count = min(Self.readSize, file.length - offset)
        guard count > 0 else {
            feed(ByteBuffer(), last: true) {}
            return
        }
        let at = file.offset + offset
        let last = offset + count >= file.length
        let next: @Sendable () -> Void = { [self] in readFile(file, from: offset + count, threadPool: threadPool) }
        queue.enqueue(continuing: offset > 0) { [self] in
            var piece = allocator.buffer(capacity: count)
            let cached = piece.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
                FileReader.preadCached(file.descriptor, into: UnsafeMutableRawBufferPointer(rebasing: raw.prefix(count)), at: at)
            }
            if cached == count {
                feed(piece, last: last, then: next)
                return
            }
            let partial = piece
            threadPool.runIfActive(eventLoop: eventLoop) { () throws -> ByteBuffer in
                var piece = partial
                let read = try piece.writeWithUnsafeMutableBytes(minimumWritableBytes: count - cached) { raw in
                    try FileReader.pread(file.descriptor, into: UnsafeMutableRawBufferPointer(rebasing: raw.prefix(count - cached)), at: at + cached)
                }
                guard read == count - cached else { throw CompressionFailure.shortRead }
                return piece
            }.whenComplete { [self] result in
                _ = file.owner  // the descriptor stays open until the last read
                switch result {
                case .failure(let error): done.fail(error)
                case .success(let piece): queue.enqueue(continuing: offset > 0) { [self] in feed(piece, last: last, then: next) }
                }
            }
        }
    }
}
