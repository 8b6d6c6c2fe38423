public import MeridianConfig
public import MeridianCore
public import NIOCore
internal import NIOHTTP1
public import NIOPosix

/// The `static` action: files under a root with validators, conditionals, ranges, precompressed
/// siblings, index files and `try_files`. Hits are answered on the event loop from the per-loop
/// metadata cache; misses resolve on the I/O thread pool.
public struct StaticFileResponder: Responder {
    let action: Configuration.StaticAction
    let resolver: FileResolver
    let threadPool: NIOThreadPool
    let caches: [ObjectIdentifier: FileMetadataCache]

    public init(action: Configuration.StaticAction, root: String, group: any EventLoopGroup, threadPool: NIOThreadPool) {
        self.action = action
        self.resolver = FileResolver(root: root, action: action)
        self.threadPool = threadPool
        var caches: [ObjectIdentifier: FileMetadataCache] = [:]
        for loop in group.makeIterator() {
            caches[ObjectIdentifier(loop)] = FileMetadataCache(
                eventLoop: loop, validity: TimeAmount(action.metadataCacheValidity), capacity: action.metadataCacheEntries
            )
        }
        self.caches = caches
    }

    public func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        guard request.method == .GET || request.method == .HEAD else {
            return .immediate(.text(.methodNotAllowed, "405 Method Not Allowed\n", headers: ["allow": "GET, HEAD"]))
        }
        let cache = caches[ObjectIdentifier(context.eventLoop)]
        // The routed path is the cache key: a path that resolved once resolves the same way until
        // the entry expires, so a hit needs neither decoding nor checks again.
        if let hit = cache?.lookup(request.path, now: request.startedAt) {
            return .immediate(Self.answer(hit, request: request, action: action))
        }
        let segments: [String]
        let trailingSlash: Bool
        switch StaticPath.resolve(request.path, stripPrefix: action.stripPrefix, allowDotfiles: action.dotfiles == .allow) {
        case .badRequest(let why): return .immediate(.text(.badRequest, "400 Bad Request: \(why)\n"))
        case .notFound: return .immediate(.text(.notFound, "404 Not Found\n"))
        case .file(let s, let t):
            segments = s
            trailingSlash = t
        }
        let resolver = self.resolver
        let action = self.action
        let resolve = { [threadPool] in
            threadPool.runIfActive(eventLoop: context.eventLoop) {
                resolver.resolve(segments: segments, trailingSlash: trailingSlash)
            }
        }
        guard let cache else {
            return .eventually(resolve().map { Self.answer($0, request: request, action: action) })
        }
        return .eventually(cache.resolve(Substring(String(request.path)), resolve).map { Self.answer($0, request: request, action: action) })
    }

    /// Builds the response for a resolution: negotiation, validators, preconditions, ranges.
    static func answer(_ resolution: FileResolution, request: Request, action: Configuration.StaticAction) -> Response {
        switch resolution {
        case .notFound:
            return .text(.notFound, "404 Not Found\n")
        case .forbidden:
            return .text(.forbidden, "403 Forbidden\n")
        case .status(let code):
            let status = HTTPResponseStatus(statusCode: code)
            return .text(status, "\(code) \(status.reasonPhrase)\n")
        case .directoryRedirect:
            var location = String(request.path) + "/"
            if let q = request.query { location += "?" + q }
            return .text(.movedPermanently, "301 Moved Permanently\n", headers: ["location": location])
        case .file(let identity, let variants, let contentType, let modified):
            var chosen = identity
            if !variants.isEmpty,
                let coding = AcceptEncoding.choose(request.fields.first(name: "accept-encoding"), available: variants.map { $0.coding! }),
                let variant = variants.first(where: { $0.coding == coding })
            {
                chosen = variant
            }
            let file = chosen.entry
            var headers = chosen.headers

            let h = request.fields
            switch ConditionalRequest.evaluate(
                ifMatch: h.first(name: "if-match"), ifUnmodifiedSince: h.first(name: "if-unmodified-since"),
                ifNoneMatch: h.first(name: "if-none-match"), ifModifiedSince: h.first(name: "if-modified-since"),
                etag: file.etag, lastModified: modified, isGetOrHead: true
            ) {
            case .notModified:
                headers.remove(name: "content-type")
                headers.remove(name: "content-encoding")
                headers.remove(name: "accept-ranges")
                return Response(status: .notModified, headers: headers)
            case .preconditionFailed:
                return .text(.preconditionFailed, "412 Precondition Failed\n")
            case .proceed:
                break
            }

            let rangeHeader = h.first(name: "range")
            let ranges: ByteRangeRequest =
                rangeHeader != nil && ConditionalRequest.ifRangeAllows(h.first(name: "if-range"), etag: file.etag, lastModified: modified)
                ? ByteRangeRequest.parse(rangeHeader, size: file.size) : .whole
            switch ranges {
            case .whole:
                return Response(status: .ok, headers: headers, body: file.wholeBody)
            case .unsatisfiable:
                var h416 = HTTPHeaders()
                h416.add(name: "content-range", value: "bytes */\(file.size)")
                h416.add(name: "accept-ranges", value: "bytes")
                return .text(.rangeNotSatisfiable, "416 Range Not Satisfiable\n", headers: h416)
            case .ranges(let list) where list.count == 1:
                let r = list[0]
                headers.add(name: "content-range", value: "bytes \(r.lowerBound)-\(r.upperBound)/\(file.size)")
                let body: ResponseBody
                switch file.body(r) {
                case .buffer(let b): body = .buffer(b)
                case .file(let f): body = .file(f)
                }
                return Response(status: .partialContent, headers: headers, body: body)
            case .ranges(let list):
                var rng = SystemRandomNumberGenerator()
                let boundary = "meridian-" + String(rng.next() as UInt64, radix: 36)
                var parts: [ResponseBodyPart] = []
                for r in list {
                    let partHead = "\r\n--\(boundary)\r\ncontent-type: \(contentType)\r\ncontent-range: bytes \(r.lowerBound)-\(r.upperBound)/\(file.size)\r\n\r\n"
                    parts.append(.buffer(ByteBuffer(string: partHead)))
                    parts.append(file.body(r))
                }
                parts.append(.buffer(ByteBuffer(string: "\r\n--\(boundary)--\r\n")))
                headers.replaceOrAdd(name: "content-type", value: "multipart/byteranges; boundary=\(boundary)")
                return Response(status: .partialContent, headers: headers, body: .parts(parts))
            }
        }
    }
}

