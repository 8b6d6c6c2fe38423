public import NIOCore
public import NIOHTTP1


/// ``HTTP1RequestParser`` as a `ByteToMessageDecoder`.
public struct HTTP1RequestDecoder: ByteToMessageDecoder {
    public typealias InboundOut = HTTPServerRequestPart

    public struct Limits: Sendable {
        public var maxRequestLine: Int
        public var maxHeaderBytes: Int
        public var maxHeaderCount: Int
        public var maxBodyBytes: Int
        public init(maxRequestLine: Int = 8192, maxHeaderBytes: Int = 32768, maxHeaderCount: Int = 100, maxBodyBytes: Int = 10 << 20) {
            self.maxRequestLine = maxRequestLine
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxBodyBytes = maxBodyBytes
        }
    }

    /// Fired when the first byte of a request head arrives but the head is not yet complete.
    public enum Event: Sendable {
        case requestHeadStarted
    }

    private var parser: HTTP1RequestParser

    public init(limits: Limits) {
        self.parser = HTTP1RequestParser(limits: limits)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let part: HTTPServerRequestPart
        switch try parser.next(&buffer) {
        case .none:
            return .needMoreData
        case .headStarted:
            context.fireUserInboundEventTriggered(Event.requestHeadStarted)
            return .continue
        case .head(let head):
            part = .head(head.httpRequestHead)
        case .part(let p):
            part = p
        }
        context.fireChannelRead(wrapInboundOut(part))
        // A head without a body ends at once; say so before the buffer may run dry.
        if parser.endIsPending, case .part(let end)? = try parser.next(&buffer) {
            context.fireChannelRead(wrapInboundOut(end))
        }
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if parser.isIdle && buffer.readableBytes == 0 { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        throw HTTPParseError.bad("connection closed in the middle of a request")
    }
}
