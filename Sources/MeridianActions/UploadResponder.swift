public import MeridianConfig
public import MeridianCore
internal import MeridianStatic
internal import NIOCore
internal import NIOHTTP1
public import NIOPosix

/// The `upload` action: PUT writes the request body to the file the path names; POST to a
/// collection writes it to a new file with a generated name. The body streams into a temporary
/// file next to the target (written on the I/O thread pool, a batch at a time, while the
/// request layer's backpressure holds the client), which is then renamed into place in one
/// step, so a reader never sees half a file and a body cut short leaves nothing behind.
///
/// Answers: 201 with `Location` for a new file, 204 for a replaced one (`overwrite: true`), 409
/// when it exists and overwrite is off (or the parent directory is missing), 412 for
/// `If-None-Match: *` on an existing file, 400/403 for paths that could leave the root (the
/// same rules as static files), 413 over `max_bytes`, 405 for other methods.
public struct UploadResponder: Responder {
    let action: Configuration.UploadAction
    let files: UploadFiles
    let threadPool: NIOThreadPool

    public init(action: Configuration.UploadAction, root: String, threadPool: NIOThreadPool) {
        self.action = action
        self.files = UploadFiles(root: root)
        self.threadPool = threadPool
    }

    public func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        let method = request.method
        guard method == .PUT || method == .POST else {
            return .immediate(.text(.methodNotAllowed, "405 Method Not Allowed: upload with PUT or POST\n", headers: ["allow": "PUT, POST"]))
        }
        if let prefix = action.stripPrefix, !request.path.hasPrefix(prefix) {
            return .immediate(.text(.notFound, "404 Not Found\n"))
        }
        let segments: [String]
        let trailingSlash: Bool
        switch StaticPath.resolve(request.path, stripPrefix: action.stripPrefix, allowDotfiles: false) {
        case .file(let s, let slash):
            segments = s
            trailingSlash = slash
        case .badRequest(let reason):
            return .immediate(.text(.badRequest, "400 Bad Request: \(reason)\n"))
        case .notFound:
            return .immediate(.text(.forbidden, "403 Forbidden: dotfiles cannot be uploaded\n"))
        }
        let target: UploadFiles.Target
        var location = String(request.path)
        if method == .PUT {
            guard !trailingSlash, !segments.isEmpty else {
                return .immediate(.text(.methodNotAllowed, "405 Method Not Allowed: PUT needs a file name; POST to a collection\n", headers: ["allow": "POST"]))
            }
            target = .init(directory: Array(segments.dropLast()), name: segments.last!, generated: false)
        } else {
            let name = UploadFiles.generatedName()
            target = .init(directory: segments, name: name, generated: true)
            if !location.hasSuffix("/") { location += "/" }
            location += name
        }
        let createdAt = location
        let ifNoneMatchAny = request.headers["if-none-match"].contains { value in
            value.split(separator: ",").contains { $0.allSatisfy { $0 == " " || $0 == "\t" || $0 == "*" } && $0.contains("*") }
        }
        let eventLoop = context.eventLoop
        let files = self.files
        let action = self.action
        let prepared = threadPool.runIfActive(eventLoop: eventLoop) {
            try files.prepare(target, overwrite: action.overwrite, createDirectories: action.createDirectories, ifNoneMatchAny: ifNoneMatchAny)
        }
        let answer = prepared.flatMap { outcome -> EventLoopFuture<Response> in
            switch outcome {
            case .refused(let response):
                return eventLoop.makeSucceededFuture(response)
            case .ready(let temp):
                return self.receive(request.body, into: temp, context: context).flatMap { () -> EventLoopFuture<Response> in
                    self.threadPool.runIfActive(eventLoop: eventLoop) {
                        try files.commit(temp, to: target, overwrite: action.overwrite, ifNoneMatchAny: ifNoneMatchAny)
                    }.map { replaced in
                        replaced ? Response(status: .noContent) : .text(.created, "201 Created\n", headers: ["location": createdAt])
                    }
                }.flatMapError { error in
                    self.threadPool.runIfActive(eventLoop: eventLoop) { files.discard(temp) }.flatMapThrowing { throw error }
                }
            }
        }.flatMapErrorThrowing { error -> Response in
            switch error {
            case let e as RequestBodyError:
                return .text(e.status, "\(e.status.code) \(e.status.reasonPhrase): \(e)\n")
            case let e as UploadFiles.Conflict:
                return .text(e.status, "\(e.status.code) \(e.status.reasonPhrase): \(e.reason)\n")
            default:
                context.logger.error("upload failed", metadata: ["request.id": "\(request.id)", "error": "\(error)"])
                return .text(.internalServerError, "500 Internal Server Error: the upload could not be stored\n")
            }
        }
        return .eventually(answer)
    }

    /// Reads the body into `temp` (see ``UploadSink``).
    private func receive(_ body: RequestBody, into temp: UploadFiles.TempFile, context: RequestContext) -> EventLoopFuture<Void> {
        let sink = UploadSink(body: body, temp: temp, threadPool: threadPool, eventLoop: context.eventLoop, allocator: context.allocator)
        sink.next()
        return sink.promise.futureResult
    }

    static let batchSize = 256 * 1024
}

/// Moves a request body into a temporary file: pieces gather into batches of up to
/// `UploadResponder.batchSize`, each written on the thread pool while reading waits, so at most a
/// batch and the body's queue are in memory whatever the upload's size. Confined to the request's
/// event loop (every method runs there; closures hop back to it before touching state), which is
/// what makes the unchecked `Sendable` safe.
final class UploadSink: @unchecked Sendable {
    let body: RequestBody
    let temp: UploadFiles.TempFile
    let threadPool: NIOThreadPool
    let eventLoop: any EventLoop
    let allocator: ByteBufferAllocator
    let promise: EventLoopPromise<Void>
    private var batch: ByteBuffer
    private var offset = 0

    init(body: RequestBody, temp: UploadFiles.TempFile, threadPool: NIOThreadPool, eventLoop: any EventLoop, allocator: ByteBufferAllocator) {
        self.body = body
        self.temp = temp
        self.threadPool = threadPool
        self.eventLoop = eventLoop
        self.allocator = allocator
        self.promise = eventLoop.makePromise()
        self.batch = allocator.buffer(capacity: 0)
    }

    func next() {
        body.read { event in
            switch event {
            case .piece(var piece):
                if self.batch.readableBytes == 0 && piece.readableBytes >= UploadResponder.batchSize {
                    self.batch = piece
                } else {
                    if self.batch.capacity == 0 { self.batch = self.allocator.buffer(capacity: UploadResponder.batchSize) }
                    self.batch.writeBuffer(&piece)
                }
                if self.batch.readableBytes >= UploadResponder.batchSize {
                    self.flush().hop(to: self.eventLoop).whenComplete { result in
                        switch result {
                        case .success: self.next()
                        case .failure(let error): self.promise.fail(error)
                        }
                    }
                } else {
                    self.next()
                }
            case .end:
                self.flush().hop(to: self.eventLoop).cascade(to: self.promise)
            case .failure(let error):
                self.promise.fail(error)
            }
        }
    }

    private func flush() -> EventLoopFuture<Void> {
        guard batch.readableBytes > 0 else { return eventLoop.makeSucceededVoidFuture() }
        let bytes = batch
        let at = offset
        offset += bytes.readableBytes
        batch = allocator.buffer(capacity: 0)
        let temp = self.temp
        return threadPool.runIfActive(eventLoop: eventLoop) { try temp.write(bytes, at: at) }
    }
}
