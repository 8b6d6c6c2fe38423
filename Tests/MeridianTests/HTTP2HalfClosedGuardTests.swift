import NIOCore
import NIOEmbedded
import Testing

@testable import MeridianCore

/// The frame-header follower in front of NIOHTTP2Handler: it must keep its place in the byte
/// stream whatever the read boundaries, and change only the reset that answers HEADERS on a
/// stream the client ended.
@Suite struct HTTP2HalfClosedGuardTests {
    static func rst(_ stream: UInt32, _ code: UInt32) -> ByteBuffer {
        ByteBuffer(bytes: H2.frame(.rstStream, stream: stream, H2.be32(code)))
    }

    func written(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var out: [UInt8] = []
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let b) = data { out += Array(b.readableBytesView) }
        }
        return out
    }

    @Test(arguments: [1, 3, 7, 4096])
    func headersOnAnEndedStreamGetStreamClosed(readSize: Int) throws {
        let channel = EmbeddedChannel(handler: HTTP2HalfClosedGuard())
        let input = H2.clientStart + H2.request(stream: 1) + H2.data(stream: 3, "x") + H2.request(stream: 1)
        var i = 0
        while i < input.count {
            try channel.writeInbound(ByteBuffer(bytes: input[i..<min(input.count, i + readSize)]))
            i += readSize
        }
        while try channel.readInbound(as: ByteBuffer.self) != nil {}
        // Another stream's reset and a different code pass unchanged; stream 1's PROTOCOL_ERROR
        // becomes STREAM_CLOSED, once.
        try channel.writeOutbound(Self.rst(3, 1))
        try channel.writeOutbound(Self.rst(1, 1))
        try channel.writeOutbound(Self.rst(1, 1))
        let frames = H2.parse(try written(channel))
        #expect(frames.map { $0.stream } == [3, 1, 1])
        #expect(frames.map { $0.errorCode } == [1, 5, 1])
        _ = try channel.finish()
    }

    @Test func aStreamStillOpenIsLeftAlone() throws {
        let channel = EmbeddedChannel(handler: HTTP2HalfClosedGuard())
        // HEADERS without END_STREAM, then HEADERS again (trailers without END_STREAM: NIOHTTP2's
        // PROTOCOL_ERROR is the right answer there).
        try channel.writeInbound(ByteBuffer(bytes: H2.clientStart + H2.request(stream: 1, endStream: false) + H2.request(stream: 1, endStream: false)))
        try channel.writeOutbound(Self.rst(1, 1))
        #expect(H2.parse(try written(channel)).map { $0.errorCode } == [1])
        _ = try channel.finish()
    }
}
