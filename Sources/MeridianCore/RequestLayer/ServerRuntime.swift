public import Logging
internal import Atomics
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOHTTP1

/// Everything a request needs from the configuration, swapped whole on reload: a request keeps the
/// runtime it began with until it ends, so a reload never changes a request in flight.
public final class ServerRuntime: Sendable {
    public let router: Router
    public let limits: ServerLimits
    public let timeouts: ServerTimeouts
    public let serverHeader: String
    /// Counts reloads: 1 for the configuration the process started with.
    public let generation: Int
    public let logger: Logger
    public let observers: [any RequestObserver]
    /// Decides each request's trace context; nil when tracing is off.
    public let tracing: (any RequestTracing)?

    public init(
        router: Router, limits: ServerLimits, timeouts: ServerTimeouts, serverHeader: String,
        generation: Int, logger: Logger, observers: [any RequestObserver] = [], tracing: (any RequestTracing)? = nil
    ) {
        self.tracing = tracing
        self.router = router
        self.limits = limits
        self.timeouts = timeouts
        self.serverHeader = serverHeader
        self.generation = generation
        self.logger = logger
        self.observers = observers
    }

    /// The head limits of the HTTP/1.1 parser. Body limits are the request layer's (they may be a
    /// route's own), so the parser is given none.
    var decoderLimits: HTTP1RequestDecoder.Limits {
        .init(
            maxRequestLine: limits.maxRequestLine, maxHeaderBytes: limits.maxHeaderBytes,
            maxHeaderCount: limits.maxHeaderCount, maxBodyBytes: .max
        )
    }

    /// Routes a request: normalises its path, picks the host and route, runs the route's chain.
    func respond(to request: Request, exchange: HTTPExchange) -> (ResponseFuture, String) {
        respond(to: request, eventLoop: exchange.eventLoop, allocator: exchange.allocator, clientGone: ClientGoneSignal(exchange: exchange))
    }

    /// The body limit of the request (its route's, or `limits.max_body_bytes`), applied before the
    /// responder runs: a declared length over it is answered 413 at once.
    private func applyBodyLimit(_ limit: Int, to request: Request) -> Response? {
        guard request.body !== RequestBody.none else { return nil }
        request.body.maxBytes = limit
        let declared = request.fields.first(name: "content-length").flatMap { Int($0) } ?? 0
        guard declared > limit || request.body.receivedBytes > limit else { return nil }
        request.body.fail(.tooLarge(limit: limit))
        return .text(.payloadTooLarge, "413 Payload Too Large: the request body exceeds \(limit) bytes\n")
    }

    private func respond(
        to request: Request, eventLoop: any EventLoop, allocator: ByteBufferAllocator, clientGone: ClientGoneSignal
    ) -> (ResponseFuture, String) {
        let (answer, route) = route(request, eventLoop: eventLoop, allocator: allocator, clientGone: clientGone)
        if route == nil, let refused = applyBodyLimit(limits.maxBodyBytes, to: request) { return (.immediate(refused), "") }
        return (answer, route?.pattern.source ?? "")
    }

    private func route(
        _ request: Request, eventLoop: any EventLoop, allocator: ByteBufferAllocator, clientGone: ClientGoneSignal
    ) -> (ResponseFuture, Router.Route?) {
        switch request.pathError {
        case .none: break
        case .escapesRoot?:
            return (.immediate(.text(.badRequest, "400 Bad Request: path climbs above the root\n")), nil)
        case .some:
            return (.immediate(.text(.badRequest, "400 Bad Request: malformed path\n")), nil)
        }
        let path = request.path
        switch router.match(host: request.host, path: path, method: request.method, fields: request.fields, query: request.query) {
        case .found(let route, let parameters, let captures):
            if let refused = applyBodyLimit(route.maxBodyBytes ?? limits.maxBodyBytes, to: request) { return (.immediate(refused), route) }
            let context = RequestContext(
                eventLoop: eventLoop, allocator: allocator, logger: logger, route: route.pattern.source,
                parameters: parameters, captures: captures, clientGone: clientGone
            )
            return (route.responder.respond(to: request, context: context), route)
        case .notFound:
            return (.immediate(.text(.notFound, "404 Not Found\n")), nil)
        case .methodNotAllowed(let allowed):
            var names: [String] = []
            for m in allowed where !names.contains(m.rawValue) { names.append(m.rawValue) }
            if names.contains("GET") && !names.contains("HEAD") { names.append("HEAD") }
            return (
                .immediate(.text(.methodNotAllowed, "405 Method Not Allowed\n", headers: ["allow": names.joined(separator: ", ")])),
                nil
            )
        }
    }
}

/// The runtime currently in force; connections read it once per request.
public final class RuntimeBox: Sendable {
    private let box: NIOLockedValueBox<ServerRuntime>
    /// Bumped by every replace: a connection that holds the runtime of the generation it last
    /// saw checks this number (one relaxed load) instead of taking the lock every request.
    private let replacements = ManagedAtomic<Int>(0)

    public init(_ runtime: ServerRuntime) {
        self.box = NIOLockedValueBox(runtime)
    }

    public var current: ServerRuntime {
        box.withLockedValue { $0 }
    }

    /// How many times the runtime was replaced.
    public var version: Int { replacements.load(ordering: .acquiring) }

    public func replace(with runtime: ServerRuntime) {
        box.withLockedValue { $0 = runtime }
        replacements.wrappingIncrement(ordering: .releasing)
    }
}
