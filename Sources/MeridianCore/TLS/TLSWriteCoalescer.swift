public import NIOCore

/// Sits just behind `NIOSSLHandler` and gathers the small writes of one flush into one buffer.
///
/// `NIOSSLHandler` calls `SSL_write` once per write it is given, and each call seals a TLS record
/// of its own: a 1 KiB HTTP/2 response is three writes (HEADERS frame, DATA frame header, DATA
/// payload), so ten responses answered in one read became thirty records, each paying the record
/// header, the AEAD tag and BoringSSL's per-call set-up. Here the writes between two flushes are
/// copied into one buffer (up to `limit`) and handed on as one write: one `SSL_write`, records of
/// up to 16 KiB. The copy is cheap next to encryption, and it also lets `NIOHTTP2Handler` reuse
/// its frame-encoding buffer for all but the first frame of a batch (a copied frame's buffer is
/// no longer held downstream when the next one is encoded): one allocation per batch, not one
/// per frame.
///
/// Order is kept: a write that is not a byte buffer, or one of `limit` bytes or more, first sends
/// what was gathered. Promises complete when the gathered write does.
public final class TLSWriteCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = IOData
    public typealias OutboundOut = IOData

    /// Writes at least this large pass straight through; gathered bytes go out once they reach it.
    public static let limit = 64 * 1024

    /// The first write of a batch, kept as it came: a lone write is passed on uncopied.
    private var single: ByteBuffer?
    /// Where two or more writes are gathered: a fresh buffer per batch, so an idle connection
    /// holds none.
    private var gathered = ByteBuffer()
    private var gathering = false
    private var promise: EventLoopPromise<Void>?
    private var morePromises: [EventLoopPromise<Void>] = []

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(var buffer) = unwrapOutboundIn(data), buffer.readableBytes < Self.limit else {
            sendPending(context: context)
            context.write(data, promise: promise)
            return
        }
        if gathering {
            gathered.writeBuffer(&buffer)
        } else if var first = single.take() {
            gathered = context.channel.allocator.buffer(capacity: max(Self.batchCapacity, first.readableBytes + buffer.readableBytes))
            gathered.writeBuffer(&first)
            gathered.writeBuffer(&buffer)
            gathering = true
        } else {
            single = buffer
        }
        if let promise {
            if self.promise == nil { self.promise = promise } else { morePromises.append(promise) }
        }
        if gathering && gathered.readableBytes >= Self.limit { sendPending(context: context) }
    }

    /// A batch's buffer starts this large (ten 1 KiB h2 responses fit without growing).
    static let batchCapacity = 16 * 1024

    public func flush(context: ChannelHandlerContext) {
        sendPending(context: context)
        context.flush()
    }

    /// For tests: the capacity of the buffer this handler still holds.
    var heldBufferCapacity: Int { gathered.capacity }

    private func sendPending(context: ChannelHandlerContext) {
        let out: ByteBuffer
        if gathering {
            gathering = false
            out = gathered
            gathered = ByteBuffer()
        } else if let first = single.take() {
            out = first
        } else {
            return
        }
        var promise = self.promise.take()
        if !morePromises.isEmpty {
            let all = promise.map { [$0] + morePromises } ?? morePromises
            morePromises.removeAll(keepingCapacity: true)
            let combined = context.eventLoop.makePromise(of: Void.self)
            combined.futureResult.whenComplete { result in
                for p in all { p.completeWith(result) }
            }
            promise = combined
        }
        context.write(wrapOutboundOut(.byteBuffer(out)), promise: promise)
    }

    /// What was gathered goes on ahead of the close, so the handler in front treats it exactly as
    /// it would have without this one (`NIOSSLHandler` fails unflushed writes on close).
    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        sendPending(context: context)
        context.close(mode: mode, promise: promise)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        // Nothing gathered may be lost: pass it on (it goes out with the next flush).
        sendPending(context: context)
    }
}
