/// Which timeout runs on an HTTP/1.1 connection, and since when: idle between requests,
/// header_read while a head arrives (slowloris), body_read while a body arrives (but not while
/// the reader is behind: that wait is the server's), none while a responder works, and send while
/// the socket takes nothing. Pure: the handler reports events with the time and arms one timer at
/// ``deadline(_:)``; when it fires, ``expired(at:_:)`` says which timeout (if any) has passed. The
/// limits are passed in, not kept: every idle connection holds this state, and the limits are the
/// runtime's.
///
/// RFC 9112 §9.8 leaves these to the server; the kinds and the 408 on header and body timeouts are
/// what nginx does (`client_header_timeout`, `client_body_timeout`, `keepalive_timeout`,
/// `send_timeout`).
public struct HTTP1ConnectionTimeouts<C: Clock>: Sendable where C.Duration == Duration, C.Instant: Sendable {
    public enum Kind: String, Sendable, Equatable {
        case idle
        case headerRead = "header_read"
        case bodyRead = "body_read"
        case send
    }

    public struct Limits: Sendable, Equatable {
        public var headerRead: Duration
        public var idle: Duration
        public var bodyRead: Duration
        public var send: Duration

        public init(headerRead: Duration, idle: Duration, bodyRead: Duration, send: Duration) {
            self.headerRead = headerRead
            self.idle = idle
            self.bodyRead = bodyRead
            self.send = send
        }
    }

    public enum Phase: Sendable, Equatable {
        /// Between requests (or before the first).
        case idle
        /// The first bytes of a head arrived at `since`.
        case head(since: C.Instant)
        /// The body of the request in flight is arriving; `paused` while its reader is behind.
        case body(paused: Bool)
        /// The request is read; a responder is working or the response is going out.
        case responding
    }

    public private(set) var phase: Phase = .idle
    private var lastActivity: C.Instant
    private var unwritableSince: C.Instant?

    public init(now: C.Instant) {
        self.lastActivity = now
    }

    /// Bytes arrived from the client.
    public mutating func received(at now: C.Instant) {
        lastActivity = now
    }

    /// The first bytes of a new head: header_read starts (from the first byte, not the last, so
    /// a client trickling a byte at a time gains nothing).
    public mutating func headStarted(at now: C.Instant) {
        if case .idle = phase { phase = .head(since: now) }
    }

    /// The head is complete.
    public mutating func requestStarted(bodyExpected: Bool, at now: C.Instant) {
        phase = bodyExpected ? .body(paused: false) : .responding
        lastActivity = now
    }

    /// The body's reader fell behind (`true`: the protocol stopped reading) or caught up, which
    /// starts the body clock afresh.
    public mutating func bodyPaused(_ paused: Bool, at now: C.Instant) {
        guard case .body(let was) = phase, was != paused else { return }
        phase = .body(paused: paused)
        if !paused { lastActivity = now }
    }

    /// The body is complete (or failed): nothing more is owed by the client for this request.
    public mutating func bodyEnded() {
        if case .body = phase { phase = .responding }
    }

    /// Read and answered: the connection is idle again.
    public mutating func requestDone(at now: C.Instant) {
        phase = .idle
        lastActivity = now
    }

    /// The socket stopped (false) or resumed (true) taking bytes.
    public mutating func writabilityChanged(_ writable: Bool, at now: C.Instant) {
        unwritableSince = writable ? nil : now
    }

    /// The deadline of the timeout that runs now, if any.
    public func deadline(_ limits: Limits) -> (instant: C.Instant, kind: Kind)? {
        if let since = unwritableSince { return (since.advanced(by: limits.send), .send) }
        switch phase {
        case .idle: return (lastActivity.advanced(by: limits.idle), .idle)
        case .head(let since): return (since.advanced(by: limits.headerRead), .headerRead)
        case .body(paused: false): return (lastActivity.advanced(by: limits.bodyRead), .bodyRead)
        case .body(paused: true), .responding: return nil
        }
    }

    /// The timeout that has passed by `now`, if one has.
    public func expired(at now: C.Instant, _ limits: Limits) -> Kind? {
        guard let (instant, kind) = deadline(limits), instant <= now else { return nil }
        return kind
    }
}
