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
/// default levels 40 KiB take about 1 ms); longer ones, files and streams go through the compressor 16 KiB at a
/// time as a streamed body, so the loop serves other connections between pieces and the client's reading paces
/// the work. A file's compressed variant is kept in ``VariantCache`` (keyed by path, ETag and coding): a hot file is
/// compressed once. A streamed body (a proxied response, SSE) is flushed through the compressor after each piece
/// the producer writes when it is an event stream or the piece is small, so no event waits for the next.
public struct CompressionMiddleware: Middleware {
    let policy: CompressionPolicy
    let threadPool: NIOThreadPool
    /// Nil when the route keeps no variants (`cache: false`).
    let cache: VariantCache?
    let stats: CompressionStats
    static let inlineLimit = 32 * 1024
    static let pieceSize = 16 * 1024

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
        let accept = AcceptEncoding(fieldValues: request.headers["accept-encoding"])
        let hasRange = request.headers.contains(name: "range")
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
        var headers = response.headers.map { (name: $0.name, value: $0.value) }
        let status = Int(response.status.code)
        let length: Int?
        switch response.body {
        case .stream(let s): length = s.length
        case .empty: length = isHead ? response.headers.first(name: "content-length").flatMap { Int($0) } : 0
        default: length = response.body.length
        }
        let decision = policy.decide(status: status, headers: headers, bodyLength: length, acceptEncoding: accept, requestHasRange: hasRange)
        if decision.coding != nil, decision.coding != .identity, response.statusAllowsBody { stats.counters(decision.coding!).responses.wrappingIncrement(ordering: .relaxed) }
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
            guard var compressor = policy.configuration.makeCompressor(for: coding, expectedLength: b.readableBytes) else { return response }
            let started = NIODeadline.now()
            var body = compressor.compress(b, allocator: context.allocator)
            var end = compressor.finish(allocator: context.allocator)
            body.writeBuffer(&end)
            counters.record(in: b.readableBytes, out: body.readableBytes, since: started)
            out.body = .buffer(body)
            return out
        case .buffer(let b):
            out.body = .stream(Self.pieces(of: b, coding: coding, policy: policy, counters: counters))
            return out
        case .file(let file):
            let etag = response.headers.first(name: "etag") ?? ""
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
            let flushEach = response.headers.first(name: "content-type")?.lowercased().hasPrefix("text/event-stream") == true
            out.body = .stream(Self.stream(inner, coding: coding, policy: policy, counters: counters, flushEach: flushEach))
            return out
        case .parts:
            return response  // a multipart Range body: the policy refuses Range, this is not reached
        }
    }

    /// A long buffer, 16 KiB at a time: the loop serves others between pieces.
    static func pieces(of buffer: ByteBuffer, coding: ContentCoding, policy: CompressionPolicy, counters: CompressionStats.Counters) -> BodyStream {
        BodyStream { eventLoop, write in
            guard var compressor = policy.configuration.makeCompressor(for: coding, expectedLength: buffer.readableBytes) else {
                return write(buffer)
            }
            let allocator = ByteBufferAllocator()
            var rest = buffer
            let done = eventLoop.makePromise(of: Void.self)
            func step() {
                let started = NIODeadline.now()
                let piece = rest.readSlice(length: min(pieceSize, rest.readableBytes)) ?? ByteBuffer()
                var output = compressor.compress(piece, allocator: allocator)
                if rest.readableBytes == 0 {
                    var end = compressor.finish(allocator: allocator)
                    output.writeBuffer(&end)
                }
                counters.record(in: piece.readableBytes, out: output.readableBytes, since: started)
                let last = rest.readableBytes == 0
                write(output).whenComplete { result in
                    switch result {
                    case .failure(let error): done.fail(error)
                    case .success where last: done.succeed()
                    case .success: step()
                    }
                }
            }
            step()
            return done.futureResult
        }
    }

    /// A file read 16 KiB at a time off the loop (the thread pool) and compressed on it piece by piece (each piece a
    /// fraction of a millisecond at the default levels); the whole variant is kept when it is small
    /// enough for the cache.
    static func file(
        _ file: FileSlice, coding: ContentCoding, policy: CompressionPolicy, counters: CompressionStats.Counters, threadPool: NIOThreadPool,
        keep: (VariantCache, VariantCache.Key)?
    ) -> BodyStream {
        BodyStream { eventLoop, write in
            guard var compressor = policy.configuration.makeCompressor(for: coding, expectedLength: file.length) else {
                return eventLoop.makeFailedFuture(CompressionFailure.noCompressor)
            }
            let allocator = ByteBufferAllocator()
            var offset = 0
            var kept: ByteBuffer? = keep.flatMap { $0.0.accepts(length: file.length) ? allocator.buffer(capacity: file.length / 3) : nil }
            let done = eventLoop.makePromise(of: Void.self)
            let owner = file.owner
            func step() {
                let count = min(pieceSize, file.length - offset)
                let at = file.offset + offset
                threadPool.runIfActive(eventLoop: eventLoop) { () throws -> ByteBuffer in
                    var piece = allocator.buffer(capacity: count)
                    let read = try piece.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
                        try FileReader.pread(file.descriptor, into: UnsafeMutableRawBufferPointer(rebasing: raw.prefix(count)), at: at)
                    }
                    guard read == count else { throw CompressionFailure.shortRead }
                    return piece
                }.whenComplete { result in
                    _ = owner
                    switch result {
                    case .failure(let error): done.fail(error)
                    case .success(let piece):
                        let started = NIODeadline.now()
                        offset += count
                        var output = compressor.compress(piece, allocator: allocator)
                        if offset >= file.length {
                            var end = compressor.finish(allocator: allocator)
                            output.writeBuffer(&end)
                        }
                        counters.record(in: count, out: output.readableBytes, since: started)
                        kept?.writeImmutableBuffer(output)
                        let last = offset >= file.length
                        write(output).whenComplete { written in
                            switch written {
                            case .failure(let error): done.fail(error)
                            case .success where last:
                                if let keep, let kept { keep.0.put(keep.1, kept) }
                                done.succeed()
                            case .success: step()
                            }
                        }
                    }
                }
            }
            if file.length == 0 {
                var end = compressor.finish(allocator: allocator)
                var out = allocator.buffer(capacity: end.readableBytes)
                out.writeBuffer(&end)
                return write(out)
            }
            step()
            return done.futureResult
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
