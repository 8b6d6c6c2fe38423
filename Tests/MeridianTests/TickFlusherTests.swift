import NIOCore
import NIOEmbedded
import Testing
import MeridianCore

/// Writes flushed through the tick flusher leave together once the loop has run its I/O events' work, not at once.
struct TickFlusherTests {
    @Test func flushesWaitForTheEndOfTheLoopsBatchAndThenAllLeave() throws {
        let loop = EmbeddedEventLoop()
        let a = EmbeddedChannel(loop: loop)
        let b = EmbeddedChannel(loop: loop)
        try a.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try b.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
        let writtenA = a.write(ByteBuffer(string: "response a"))
        TickFlusher.flush(a)
        b.write(ByteBuffer(string: "request b"), promise: nil)
        TickFlusher.flush(b)
        TickFlusher.flush(a)  // twice in one batch: flushed twice, harmlessly
        #expect(try a.readOutbound(as: ByteBuffer.self) == nil, "nothing leaves before the batch ends")
        #expect(try b.readOutbound(as: ByteBuffer.self) == nil)
        loop.run()
        #expect(try a.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "response a"))
        #expect(try b.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "request b"))
        try writtenA.wait()
        // The next batch schedules again.
        a.write(ByteBuffer(string: "later"), promise: nil)
        TickFlusher.flush(a)
        #expect(try a.readOutbound(as: ByteBuffer.self) == nil)
        loop.run()
        #expect(try a.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "later"))
        _ = try a.finish()
        _ = try b.finish()
    }
}
