/// The stall rules of HTTP/2, as pure state with an injected clock: one ``Stream`` per request
/// (kept in the stream's object, so an event costs no lookup) and one ``Connection`` per
/// connection. The handler reports events and runs ``Connection/tick(at:send:bufferedBytes:outboundProgress:)``
/// and ``Stream/check(at:connectionProgressed:readerBehind:)`` on a periodic timer while any clock
/// runs, then carries out the verdicts (reset, 408, close).
///
/// - A response whose body does not move for `send` is reset (CANCEL), as HTTP/1.1 closes: a
///   client that never opens its window would otherwise hold the stream (an open file, a chunk in
///   memory) forever. A whole response handed to NIOHTTP2 moves while the connection sends DATA
///   (NIOHTTP2 reports no per-stream progress short of an event per frame).
/// - A request body that stops arriving for `body_read` while the client has window to send it
///   is the client's stall (408 before the response, CANCEL after); while the reader is behind
///   and the window is used up, the wait is the server's and the clock does not run.
/// - A connection whose socket takes nothing for `send` is closed: NIOHTTP2 holds even
///   RST_STREAM back while the channel is not writable, so resetting streams would change
///   nothing. Bytes leaving the channel's buffer between ticks count as progress (NIOHTTP2 can
///   hand the channel far more than the high watermark in one go).
public enum HTTP2StallPolicy<C: Clock> where C.Duration == Duration, C.Instant: Sendable {
    public struct Stream: Sendable {
        public enum Verdict: Sendable, Equatable {
            /// Nothing runs for this stream.
            case idle
            /// A clock runs and has not expired: keep ticking.
            case running
            /// The request body stopped arriving.
            case bodyTimedOut
            /// The response stopped moving.
            case responseStalled
        }

        /// This request's timeouts (the configuration it began with).
        public var bodyRead: Duration
        public var send: Duration
        public private(set) var bodySince: C.Instant?
        public private(set) var responseSince: C.Instant?
        public private(set) var handedOver = false

        public init(bodyRead: Duration, send: Duration) {
            self.bodyRead = bodyRead
            self.send = send
        }

        /// HEADERS without END_STREAM, or DATA: the body clock (re)starts.
        public mutating func bodyProgressed(at now: C.Instant) { bodySince = now }
        /// END_STREAM, or the body failed: nothing more is owed.
        public mutating func bodyEnded() { bodySince = nil }
        /// The response head went out, or a chunk of its body left.
        public mutating func responseProgressed(at now: C.Instant) { responseSince = now }
        /// The whole response is with NIOHTTP2.
        public mutating func responseHandedOver(at now: C.Instant) {
            responseSince = now
            handedOver = true
        }
        /// The response's last frame left (or the stream was reset).
        public mutating func responseEnded() {
            responseSince = nil
            handedOver = false
        }

        public var isRunning: Bool { bodySince != nil || responseSince != nil }

        /// The verdict at `now`. `connectionProgressed`: the connection sent DATA since the last
        /// tick; `readerBehind`: the body's reader holds a full window.
        public mutating func check(at now: C.Instant, connectionProgressed: Bool, readerBehind: Bool) -> Verdict {
            var running = false
            if let since = bodySince {
                if readerBehind {
                    bodySince = now
                    running = true
                } else if since.duration(to: now) > bodyRead {
                    bodySince = nil
                    return .bodyTimedOut
                } else {
                    running = true
                }
            }
            if handedOver && connectionProgressed && responseSince != nil { responseSince = now }
            if let since = responseSince {
                if since.duration(to: now) > send {
                    responseEnded()
                    return .responseStalled
                }
                running = true
            }
            return running ? .running : .idle
        }
    }

    public struct Connection: Sendable {
        public private(set) var unwritableSince: C.Instant?
        private var bufferedAtLastTick: Int?
        private var progressAtLastTick = 0

        public init() {}

        public mutating func writabilityChanged(_ writable: Bool, at now: C.Instant) {
            // Every "not writable" restarts the clock: when the socket drains, NIOHTTP2Handler
            // first sends the frames it held back, which can make the channel unwritable again
            // before the "writable" event arrives. Each such event is a transition: bytes moved.
            unwritableSince = writable ? nil : now
        }

        public enum Verdict: Sendable, Equatable {
            /// The socket took nothing for `send`: close the connection.
            case close
            /// Check the streams; `progressed` when the connection sent DATA since the last tick,
            /// `running` when the connection's own clock runs.
            case checkStreams(progressed: Bool, running: Bool)
        }

        /// One tick: `bufferedBytes` is what waits in the channel, `outboundProgress` a counter of
        /// DATA sent that the handler bumps.
        public mutating func tick(at now: C.Instant, send: Duration, bufferedBytes: Int?, outboundProgress: Int) -> Verdict {
            if unwritableSince != nil {
                if let buffered = bufferedBytes, let last = bufferedAtLastTick, buffered < last { unwritableSince = now }
                bufferedAtLastTick = bufferedBytes
            } else {
                bufferedAtLastTick = nil
            }
            if let since = unwritableSince, since.duration(to: now) > send { return .close }
            let progressed = outboundProgress != progressAtLastTick
            progressAtLastTick = outboundProgress
            return .checkStreams(progressed: progressed, running: unwritableSince != nil)
        }
    }
}
