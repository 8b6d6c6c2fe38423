/// Tells a responder that the client has gone (the connection closed or was half-closed while
/// the response is pending, the stream was reset, or a send timed out), so it can abandon its
/// work: the proxy closes its upstream request, a stream
/// producer stops. Callbacks run on the request's event loop, at most once.
public struct ClientGoneSignal: Sendable {
    let exchange: HTTPExchange?

    /// A signal that never fires (requests built outside a connection, as in tests).
    public static let never = ClientGoneSignal(exchange: nil)

    init(exchange: HTTPExchange?) {
        self.exchange = exchange
    }

    /// Whether the client is gone already. Read it on the request's event loop.
    public var isGone: Bool { exchange.map { $0.goneReason != nil || $0.inputClosed } ?? false }

    /// Runs `callback` (on the event loop) with the reason when the client goes, or at once if it
    /// has; never, once the response has been sent in full.
    public func whenGone(_ callback: @escaping (String) -> Void) {
        exchange?.whenClientGone(callback)
    }
}
