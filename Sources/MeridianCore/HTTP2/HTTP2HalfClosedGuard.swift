internal import NIOCore

/// Makes the answer to HEADERS on a half-closed (remote) stream the one RFC 9113 §5.1 asks for:
/// a stream error of type STREAM_CLOSED. NIOHTTP2's state machine resets such a stream with
/// PROTOCOL_ERROR (its own guess, noted in its source), and the frame never reaches a handler
/// behind it, so this handler sits in front of `NIOHTTP2Handler` on the byte stream:
/// - inbound, it follows the frame headers (9 bytes each; payloads are skipped, nothing is
///   decoded) and remembers the streams the client ended with END_STREAM; HEADERS on one of them
///   marks the stream;
/// - outbound, the RST_STREAM(PROTOCOL_ERROR) `NIOHTTP2Handler` then writes for a marked stream
///   (one 13-byte write per frame) leaves with STREAM_CLOSED instead.
/// Cost on the hot path: a few integer reads per inbound frame; outbound writes are looked at
/// only while a stream is marked.
final class HTTP2HalfClosedGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// Preface bytes still to pass before the first frame header (RFC 9113 §3.4).
    private var prefaceLeft = 24
    /// Payload bytes of the current frame still to pass.
    private var payloadLeft = 0
    /// A frame header split across reads.
    private var partialHeader: [UInt8] = []
    /// Streams the client ended, in a ring (bounded: older ones are closed by now, and NIOHTTP2
    /// treats frames on closed streams as connection errors anyway). 0 is an empty slot.
    private var ended: [UInt32]
    private var nextSlot = 0
    /// The highest stream the client ended: HEADERS above it open a new stream (stream ids only
    /// grow), so the common case never searches the ring.
    private var highestEnded: UInt32 = 0
    /// Streams whose next RST_STREAM(PROTOCOL_ERROR) is to say STREAM_CLOSED.
    private var marked: [UInt32] = []

    init(rememberedStreams: Int = 256) {
        self.ended = Array(repeating: 0, count: max(1, rememberedStreams))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        scan(bytes)
        context.fireChannelRead(data)
    }

    /// Follows frame boundaries through `bytes`.
    func scan(_ bytes: ByteBuffer) {
        var view = bytes.readableBytesView[...]
        if prefaceLeft > 0 {
            let n = min(prefaceLeft, view.count)
            prefaceLeft -= n
            view = view.dropFirst(n)
        }
        while !view.isEmpty {
            if payloadLeft > 0 {
                let n = min(payloadLeft, view.count)
                payloadLeft -= n
                view = view.dropFirst(n)
                continue
            }
            let need = 9 - partialHeader.count
            if view.count < need || !partialHeader.isEmpty {
                let n = min(need, view.count)
                partialHeader.append(contentsOf: view.prefix(n))
                view = view.dropFirst(n)
                if partialHeader.count == 9 {
                    frameHeader(partialHeader[...])
                    partialHeader.removeAll(keepingCapacity: true)
                }
                continue
            }
            frameHeader(view.prefix(9))
            view = view.dropFirst(9)
        }
    }

    private func frameHeader<C: Collection>(_ h: C) where C.Element == UInt8, C.Index == Int {
        let b = h.startIndex
        payloadLeft = Int(h[b]) << 16 | Int(h[b + 1]) << 8 | Int(h[b + 2])
        let type = h[b + 3]
        let flags = h[b + 4]
        let stream = (UInt32(h[b + 5]) << 24 | UInt32(h[b + 6]) << 16 | UInt32(h[b + 7]) << 8 | UInt32(h[b + 8])) & 0x7FFF_FFFF
        switch type {
        case 0x0:  // DATA
            if flags & 0x1 != 0 { remember(stream) }
        case 0x1:  // HEADERS
            if stream <= highestEnded && ended.contains(stream) {
                if !marked.contains(stream) { marked.append(stream) }
            } else if flags & 0x1 != 0 {
                remember(stream)
            }
        case 0x3:  // RST_STREAM: the stream is closed
            forget(stream)
        default:
            break
        }
    }

    private func remember(_ stream: UInt32) {
        ended[nextSlot] = stream
        nextSlot = (nextSlot + 1) % ended.count
        highestEnded = max(highestEnded, stream)
    }

    private func forget(_ stream: UInt32) {
        if let i = ended.firstIndex(of: stream) { ended[i] = 0 }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !marked.isEmpty, case .byteBuffer(var frame) = unwrapOutboundIn(data), frame.readableBytes == 13,
            frame.getInteger(at: frame.readerIndex + 3, as: UInt8.self) == 0x3,
            frame.getInteger(at: frame.readerIndex + 9, as: UInt32.self) == 0x1,
            let stream = frame.getInteger(at: frame.readerIndex + 5, as: UInt32.self).map({ $0 & 0x7FFF_FFFF }),
            let i = marked.firstIndex(of: stream)
        else {
            context.write(data, promise: promise)
            return
        }
        marked.remove(at: i)
        forget(stream)
        frame.setInteger(UInt32(0x5), at: frame.readerIndex + 9)  // STREAM_CLOSED
        context.write(wrapOutboundOut(.byteBuffer(frame)), promise: promise)
    }
}
