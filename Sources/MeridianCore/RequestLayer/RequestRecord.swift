public import NIOCore
public import NIOHTTP1

/// The one place every request begins and ends: tracing, metrics and access logs hook in here.
public protocol RequestObserver: Sendable {
    func requestStarted(_ request: Request)
    func requestFinished(_ record: RequestRecord)
}

/// What happened to one request, handed to every ``RequestObserver`` when it ends.
public struct RequestRecord: Sendable {
    public var request: Request
    /// The matched route pattern, empty when none matched.
    public var route: String
    public var status: HTTPResponseStatus
    public var bodyBytesSent: Int
    public var bodyBytesReceived: Int
    public var duration: TimeAmount
    /// Why the request failed, when it did (a parse error, a write error, a responder error).
    public var error: String?
    /// What actions added: upstream, cache status, encoding, upgrade.
    public var annotations = RecordAnnotations()

    public init(
        request: Request, route: String, status: HTTPResponseStatus, bodyBytesSent: Int, bodyBytesReceived: Int,
        duration: TimeAmount, error: String?, annotations: RecordAnnotations = RecordAnnotations()
    ) {
        self.request = request
        self.route = route
        self.status = status
        self.bodyBytesSent = bodyBytesSent
        self.bodyBytesReceived = bodyBytesReceived
        self.duration = duration
        self.error = error
        self.annotations = annotations
    }
}
