/// Tells a responder that the client has gone (the connection closed or was half-closed while
/// the response is pending, the stream was reset, or a send timed out), so it can abandon its
/// work: the proxy closes its upstream request, a stream
/// producer stops. Callbacks run on the request's event loop, at most once.
public struct ClientGoneSignal: Sendable {
    @usableFromInline let exchange: HTTPExchange?
    /// False for a signal that keeps the request's record but never fires (``ignoringDeparture``).
    let fires: Bool

    /// A signal that never fires (requests built outside a connection, as in tests).
    public static let never = ClientGoneSignal(exchange: nil)

    init(exchange: HTTPExchange?, fires: Bool = true) {
        self.exchange = exchange
        self.fires = fires
    }

    /// The same request (annotations still reach its record) for work that must go on when the client
    /// leaves: a cache fill other requests wait for.
    public var ignoringDeparture: ClientGoneSignal { ClientGoneSignal(exchange: exchange, fires: false) }

    /// Whether the client is gone already. Read it on the request's event loop.
    public var isGone: Bool { fires && (exchange.map { $0.goneReason != nil || $0.inputClosed } ?? false) }

    /// Runs `callback` (on the event loop) with the reason when the client goes, or at once if it
    /// has; never, once the response has been sent in full.
    public func whenGone(_ callback: @escaping (String) -> Void) {
        guard fires else { return }
        exchange?.whenClientGone(callback)
    }
}
