internal import NIOCore
internal import NIOPosix
#if canImport(Glibc)
internal import Glibc
#endif
internal import NIOSSL

/// The connections from one event loop to one Redis node, kept up: connects at first use, reconnects after a loss
/// with ``ReconnectBackoff``, and fails commands at once while there is no connection (Redis down must cost a
/// request nothing: the caller answers locally). Confined to its event loop.
final class RedisLink: @unchecked Sendable {
    enum State {
        case idle
        case connecting(EventLoopFuture<RedisConnection>)
        case ready(RedisConnection)
        /// Waiting to try again; `reason` is what went wrong.
        case backoff(until: NIODeadline, reason: String)
        case closed
    }

    let node: RedisNode
    let eventLoop: any EventLoop
    private let settings: RedisSettings
    private let tls: NIOSSLContext?
    private let events: RedisEvents
    private var state: State = .idle
    private var backoff: ReconnectBackoff
    private var random = SystemRandomNumberGenerator()
    private var everConnected = false
    private var connectedAt: NIODeadline?

    init(node: RedisNode, eventLoop: any EventLoop, settings: RedisSettings, tls: NIOSSLContext?, events: RedisEvents) {
        self.node = node
        self.eventLoop = eventLoop
        self.settings = settings
        self.tls = tls
        self.events = events
        self.backoff = ReconnectBackoff(base: settings.backoffBase, max: settings.backoffMax)
    }

    /// Connects now if idle; the future says whether the first attempt worked.
    @discardableResult
    func start() -> EventLoopFuture<RedisConnection> {
        eventLoop.preconditionInEventLoop()
        switch state {
        case .ready(let c): return eventLoop.makeSucceededFuture(c)
        case .connecting(let f): return f
        case .closed: return eventLoop.makeFailedFuture(RedisError.unavailable("client closed"))
        case .backoff(_, let reason): return eventLoop.makeFailedFuture(RedisError.unavailable(reason))
        case .idle: return connect()
        }
    }

    /// The connection when the link is up (``RedisClient/pipeline(_:key:timeout:on:_:)`` writes to it directly).
    var readyConnection: RedisConnection? {
        if case .ready(let c) = state { return c }
        return nil
    }

    /// Runs `body` on a ready connection, or fails at once when there is none: while connecting the command waits
    /// for the attempt (bounded by the connect timeout and its own deadline).
    func withConnection(
        deadline: NIODeadline, _ body: @escaping @Sendable (RedisConnection) -> EventLoopFuture<RedisValue>
    ) -> EventLoopFuture<RedisValue> {
        switch state {
        case .ready(let c):
            return body(c)
        case .connecting(let f):
            let promise = eventLoop.makePromise(of: RedisValue.self)
            // Both closures run on this loop: the flag needs no lock.
            final class Flag: @unchecked Sendable { var timedOut = false }
            let flag = Flag()
            let timeout = eventLoop.scheduleTask(deadline: deadline) {
                flag.timedOut = true
                promise.fail(RedisError.timeout)
            }
            f.whenComplete { result in
                timeout.cancel()
                // The caller has its answer already: a command sent now (a lease, say) would be lost.
                guard !flag.timedOut else { return }
                switch result {
                case .success(let c): body(c).cascade(to: promise)
                case .failure(let e): promise.fail(RedisError.unavailable("\(e)"))
                }
            }
            return promise.futureResult
        case .idle:
            connect()
            return withConnection(deadline: deadline, body)
        case .backoff(_, let reason):
            return eventLoop.makeFailedFuture(RedisError.unavailable(reason))
        case .closed:
            return eventLoop.makeFailedFuture(RedisError.unavailable("client closed"))
        }
    }

    @discardableResult
    private func connect() -> EventLoopFuture<RedisConnection> {
        let attempt = RedisConnection.connect(
            to: node, settings: settings, tls: tls, on: eventLoop,
            onClose: { [weak self] in self?.eventLoop.execute { self?.lost() } }
        )
        state = .connecting(attempt)
        attempt.whenComplete { [self] result in
            guard case .connecting = state else {
                if case .success(let c) = result { c.close() }
                return
            }
            switch result {
            case .success(let c):
                state = .ready(c)
                connectedAt = .now()
                if everConnected { events.reconnected(node) }
                everConnected = true
                events.set(ObjectIdentifier(self), problem: nil)
            case .failure(let error):
                if case RedisError.handshake = error { events.handshakeFailed(node, error) }
                scheduleRetry(reason: "\(node): \(Self.describe(error))")
            }
        }
        return attempt
    }

    /// The connection went away: try again after the backoff.
    private func lost() {
        guard case .ready(let c) = state, !c.isActive else { return }
        // Only a connection that lasted earns a fresh backoff: a server that drops us at once (maxclients, a
        // proxy in front with nothing behind) must not make every loop reconnect at full speed.
        if let connectedAt, NIODeadline.now() - connectedAt >= .seconds(5) { backoff.reset() }
        scheduleRetry(reason: "\(node): connection lost")
    }

    private func scheduleRetry(reason: String) {
        if case .closed = state { return }
        let wait = backoff.next(using: &random)
        let until = NIODeadline.now() + .nanoseconds(wait.nanoseconds)
        state = .backoff(until: until, reason: reason)
        events.set(ObjectIdentifier(self), problem: reason)
        eventLoop.scheduleTask(deadline: until) { [self] in
            guard case .backoff = state else { return }
            connect()
        }
    }

    func close() {
        let previous = state
        state = .closed
        events.set(ObjectIdentifier(self), problem: nil)
        switch previous {
        case .ready(let c): c.close()
        case .connecting(let f): f.whenSuccess { $0.close() }
        default: break
        }
    }

    private static func describe(errno code: CInt) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused"
        case ECONNRESET: return "connection reset"
        case ETIMEDOUT: return "connect timed out"
        case EHOSTUNREACH, ENETUNREACH: return "unreachable"
        default: return "socket error \(code)"
        }
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? RedisError { return e.description }
        if let e = error as? ChannelError, case .connectTimeout = e { return "connect timed out" }
        if let e = error as? IOError { return Self.describe(errno: e.errnoCode) }
        if let e = error as? NIOConnectionError, let first = e.connectionErrors.first?.error as? IOError {
            return Self.describe(errno: first.errnoCode)
        }
        return "\(error)"
    }
}
