public import NIOCore
public import NIOHTTP1

/// What the request layer needs from a protocol to answer one request: HTTP/1.1 writes bytes
/// (heads pre-encoded, sendfile under TCP_CORK, chunked framing), HTTP/2 writes frames (HPACK,
/// flow control, the stall rules). ``HTTPExchange`` decides what is sent; a writer decides only
/// how it looks on the wire. All calls happen on the connection's event loop.
public protocol ResponseWriter: AnyObject {
    /// Whether `.file` bodies (and `.parts` holding files) may go out as file regions (sendfile).
    var canSendFile: Bool { get }

    /// Queues a response whose body is all at hand: `.empty`, `.buffer`, or file regions when
    /// ``canSendFile``. With `sendBody` false (HEAD, 204, 304) only the head goes, with the
    /// length the body would have had.
    func writeWhole(_ response: Response, sendBody: Bool, for exchange: HTTPExchange)

    /// Queues and flushes the head of a response whose body follows in pieces.
    func writeHead(_ response: Response, for exchange: HTTPExchange)

    /// Writes and flushes one piece of a streamed body; the future completes when the piece has
    /// left (the producer's backpressure) and fails when it never will.
    func writeBodyPart(_ piece: ByteBuffer, for exchange: HTTPExchange) -> EventLoopFuture<Void>

    /// Ends a streamed body (the last chunk, or DATA with END_STREAM), with trailer fields when the
    /// producer has some (gRPC's status, say): the chunked trailer section on HTTP/1.1 (dropped when
    /// the body was not chunked, RFC 9112 §7.1.2), a HEADERS frame ending the stream on HTTP/2.
    func writeBodyEnd(trailers: HTTPHeaders?, for exchange: HTTPExchange) -> EventLoopFuture<Void>

    /// The exchange is over: its response is queued in full (`cleanly`), or it failed part-way
    /// (the writer must close the connection or reset the stream: the client cannot tell a cut
    /// body from a whole one otherwise).
    func exchangeEnded(_ exchange: HTTPExchange, cleanly: Bool)

    /// Switches protocols (HTTP/1.1 `101` + Upgrade, or the `200` of an RFC 8441 extended
    /// CONNECT on HTTP/2) and hands the byte pipe to the upgrade's installer.
    func writeUpgrade(_ response: Response, upgrade: ProtocolUpgrade, for exchange: HTTPExchange)
}
