public import NIOCore
public import Logging

/// What answers a request: an action, or a middleware chain ending in one.
public protocol Responder: Sendable {
    func respond(to request: Request, context: RequestContext) -> ResponseFuture
}

/// A request-level concern that wraps the next responder (STYLE.md: middleware answer by
/// returning a response and stop the chain by not calling `next`).
public protocol Middleware: Sendable {
    func respond(to request: Request, context: RequestContext, next: any Responder) -> ResponseFuture
}

/// A response now, or later on the request's event loop. Most answers (static hits, redirects,
/// fixed responses) are immediate, so the common path allocates no future.
public enum ResponseFuture: Sendable {
    case immediate(Response)
    case eventually(EventLoopFuture<Response>)
    /// Later, from an object that answers once without a future (``ResponseSlot``): the proxy's exchange.
    case slot(any ResponseSlot)

    public func map(_ transform: @escaping @Sendable (Response) -> Response) -> ResponseFuture {
        switch self {
        case .immediate(let r): return .immediate(transform(r))
        case .eventually(let f): return .eventually(f.map(transform))
        case .slot(let s): return .slot(MappedResponseSlot(s, transform))
        }
    }

    /// The answer as a future on `loop`, for a middleware that waits on it.
    public func future(on loop: any EventLoop) -> EventLoopFuture<Response> {
        switch self {
        case .immediate(let r): return loop.makeSucceededFuture(r)
        case .eventually(let f): return f.hop(to: loop)
        case .slot(let s):
            let promise = loop.makePromise(of: Response.self)
            s.whenAnswered { promise.completeWith($0) }
            return promise.futureResult
        }
    }
}

/// An answer given later without an `EventLoopPromise`: the responder is the slot, answers once on the request's
/// event loop, and whoever waits registers once. A proxied request used to make a promise, its future, a callback
/// and its closure just to carry its answer from the upstream's read to the request layer.
public protocol ResponseSlot: AnyObject, Sendable {
    /// Registers the one receiver of the answer (called at once when it is known already). On the request's event loop.
    func whenAnswered(_ receiver: @escaping (Result<Response, any Error>) -> Void)
}

/// A slot whose answer is transformed (``ResponseFuture/map(_:)``). Confined to the request's event loop.
final class MappedResponseSlot: ResponseSlot, @unchecked Sendable {
    let inner: any ResponseSlot
    let transform: @Sendable (Response) -> Response

    init(_ inner: any ResponseSlot, _ transform: @escaping @Sendable (Response) -> Response) {
        self.inner = inner
        self.transform = transform
    }

    func whenAnswered(_ receiver: @escaping (Result<Response, any Error>) -> Void) {
        let transform = self.transform
        inner.whenAnswered { receiver($0.map(transform)) }
    }
}

/// Everything about where a request is being handled that is not the request itself.
public struct RequestContext: Sendable {
    public var eventLoop: any EventLoop
    public var allocator: ByteBufferAllocator
    public var logger: Logger
    /// The route pattern that matched (`/users/:id`), for logs and metric labels; never the raw path.
    public var route: String
    /// `:name` parameters and `*` (the wildcard's rest) of the matched route.
    public var parameters: [(name: String, value: Substring)]
    /// Regex captures, `$1`... in redirect targets.
    public var captures: [Substring]
    /// Fires when the client goes before the response is sent.
    public var clientGone: ClientGoneSignal

    public init(
        eventLoop: any EventLoop, allocator: ByteBufferAllocator, logger: Logger, route: String = "",
        parameters: [(name: String, value: Substring)] = [], captures: [Substring] = [], clientGone: ClientGoneSignal = .never
    ) {
        self.clientGone = clientGone
        self.eventLoop = eventLoop
        self.allocator = allocator
        self.logger = logger
        self.route = route
        self.parameters = parameters
        self.captures = captures
    }

    public func parameter(_ name: String) -> Substring? {
        parameters.first(where: { $0.name == name })?.value
    }

    /// Adds a fact to the request's record (see ``RecordAnnotations``). Call it on the event loop.
    @inlinable  // specialized per key at the call site (see RecordAnnotations)
    public func annotate<Key: RecordAnnotationKey>(_ key: Key.Type, _ value: Key.Value) {
        clientGone.exchange?.annotations[key] = value
    }

    /// Adds a span event to the request's span (recorded always; exported when the request is traced).
    public func addEvent(_ event: RecordEvent) {
        clientGone.exchange?.annotations.events.append(event)
    }
}

/// A responder followed by its middleware, outermost first.
public struct MiddlewareChain: Responder {
    let middleware: [any Middleware]
    let responder: any Responder

    public init(_ middleware: [any Middleware], responder: any Responder) {
        self.middleware = middleware
        self.responder = responder
    }

    public func respond(to request: Request, context: RequestContext) -> ResponseFuture {
        if middleware.isEmpty { return responder.respond(to: request, context: context) }
        return Link(chain: self, index: 0).respond(to: request, context: context)
    }

    private struct Link: Responder {
        let chain: MiddlewareChain
        let index: Int
        func respond(to request: Request, context: RequestContext) -> ResponseFuture {
            guard index < chain.middleware.count else { return chain.responder.respond(to: request, context: context) }
            return chain.middleware[index].respond(
                to: request, context: context, next: Link(chain: chain, index: index + 1)
            )
        }
    }
}
