internal import NIOCore
internal import NIOHPACK
internal import NIOHTTP1
internal import NIOHTTP2

/// One HTTP/2 stream of an ``HTTP2ConnectionHandler``: a small object, not a child channel. It is
/// its exchange's ``ResponseWriter`` (frames out through the connection), its request body's
/// source (credit back as the reader takes bytes), and, after an extended CONNECT, the transport
/// of the ``UpgradedStream``. Confined to the connection's event loop.
final class HTTP2Stream {
    let id: HTTP2StreamID
    let eventLoop: any EventLoop
    /// Weak: a stream may outlive its connection (held by an exchange that is still answering).
    private weak var link: HTTP2ConnectionHandler.Link?
    var connection: HTTP2ConnectionHandler? { link?.handler }
    var exchange: HTTPExchange?
    var body: RequestBody = .none
    /// What the body calls back (see ``RequestBody/SourceLink``).
    lazy var bodySource = RequestBody.SourceLink(self)
    /// The `content-length` the client declared, checked against the DATA it sends (RFC 9113 §8.1.1).
    var declaredLength: Int?
    var bodyBytesReceived = 0
    /// The client sent END_STREAM.
    var requestEnded = false
    /// NIOHTTP2 closed the stream (it is no longer in `streams`).
    var closed = false
    /// This side sent RST_STREAM.
    var resetSent = false
    /// This side sent END_STREAM on a tunnel.
    var localEnded = false
    /// The stall clocks of this request (see ``HTTP2StallPolicy``); its timeouts are set when the
    /// request starts, from the configuration it runs on.
    var clocks = HTTP2StallPolicy<MonotonicClock>.Stream(bodyRead: .seconds(30), send: .seconds(30))
    /// DATA writes handed to NIOHTTP2 and not yet sent.
    var pendingWrites = 0
    /// After an extended CONNECT was answered: the pipe the installer got.
    var tunnel: UpgradedStream?
    /// DATA of a CONNECT stream that came before the answer (its credit is held back).
    var earlyTunnelData: [ByteBuffer] = []
    /// Credit not returned while the tunnel's reader is paused.
    var tunnelPaused = false
    var tunnelHeldCredit = 0

    init(id: HTTP2StreamID, eventLoop: any EventLoop, connection: HTTP2ConnectionHandler) {
        self.id = id
        self.eventLoop = eventLoop
        self.link = connection.link
    }

}

extension HTTP2Stream: ResponseWriter {
    var canSendFile: Bool { false }

    func writeWhole(_ response: Response, sendBody: Bool, for exchange: HTTPExchange) {
        connection?.writeWhole(response, sendBody: sendBody, on: self)
    }

    func writeHead(_ response: Response, for exchange: HTTPExchange) {
        connection?.writeHead(response, on: self)
    }

    func writeBodyPart(_ piece: ByteBuffer, for exchange: HTTPExchange) -> EventLoopFuture<Void> {
        guard let connection, !closed else { return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        return connection.writeData(piece, endStream: false, on: self)
    }

    func writeBodyEnd(trailers: HTTPHeaders?, for exchange: HTTPExchange) -> EventLoopFuture<Void> {
        guard let connection, !closed else { return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        if let trailers, !trailers.isEmpty { return connection.writeTrailers(trailers, on: self) }
        return connection.writeData(ByteBuffer(), endStream: true, on: self)
    }

    func exchangeEnded(_ exchange: HTTPExchange, cleanly: Bool) {
        if !clocks.handedOver { clocks.responseEnded() }
        guard !cleanly, !closed else { return }
        // A response cut short: the reset tells the client it is not whole.
        connection?.reset(self, .cancel)
    }

    func writeUpgrade(_ response: Response, upgrade: ProtocolUpgrade, for exchange: HTTPExchange) {
        connection?.writeUpgrade(response, upgrade: upgrade, on: self)
    }
}

extension HTTP2Stream: RequestBody.Source {
    /// Stream credit goes back only for bytes the reader took (or that were discarded), so a
    /// slow reader holds at most one window of the body here.
    func bodyConsumed(_ bytes: Int) {
        connection?.credit(bytes, to: self)
    }

    func bodyWantsMore() {}

    func bodyRequested() {}
}

extension HTTP2Stream: UpgradedStream.Transport {
    func write(_ bytes: ByteBuffer) -> EventLoopFuture<Void> {
        guard let connection, !closed else { return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        return connection.writeData(bytes, endStream: false, on: self)
    }

    func close() {
        guard let connection, !closed, !localEnded else { return }
        localEnded = true
        _ = connection.writeData(ByteBuffer(), endStream: true, on: self)
    }

    func setReading(_ on: Bool) {
        tunnelPaused = !on
        if on, tunnelHeldCredit > 0 {
            let held = tunnelHeldCredit
            tunnelHeldCredit = 0
            connection?.credit(held, to: self)
        }
    }
}
