import CZlib
public import NIOCore

/// Inflates the client's compressed messages (RFC 7692 §7.2.2) through the system zlib's raw inflate.
///
/// The window is the `client_max_window_bits` agreed (15 when the client did not offer the parameter): a client
/// compresses with at most that window (§7.1.2.2), and an inflater with a window at least as large as the one used
/// to compress reads any stream, so a client that used a smaller window is read too. Output is produced a chunk at a
/// time and the inflating stops once it passes the size limit, so a deflate bomb costs at most the limit plus one
/// chunk. With `client_no_context_takeover` the state is reset after each message (§7.1.1.2); otherwise the window
/// carries over, which is what makes a second "Hello" five bytes (§7.2.3.2).
public final class PerMessageDeflateDecompressor {
    /// zlib's state keeps pointers into itself, so it lives at a fixed address rather than in a Swift property.
    private let stream: UnsafeMutablePointer<z_stream>
    private let noContextTakeover: Bool
    /// Input arrived since the message began or since a final block (BFINAL, §7.2.3.4) ended zlib's stream. Without
    /// any, the trailer is not added: it would start a stored block that never ends. That covers a message that ends
    /// with a final block, and an empty compressed payload, which a zlib-based client sends for an empty message
    /// after a non-empty one (zlib writes nothing for a flush with nothing new to flush).
    private var inputSinceBoundary = false
    /// The last inflate call that made progress stopped at a block boundary (inflating with Z_BLOCK, zlib says so in
    /// `data_type`). A message plus its trailer ends at one (§7.2.1: the sender's data ends with an empty stored
    /// block); one that does not was cut short, and reading on would take the next message as the rest of it.
    private var atBlockBoundary = true

    /// The empty stored block the sender removed from the end of each message (RFC 7692 §7.2.1, §7.2.2).
    private static let trailer: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]
    /// The most output produced per inflate call, and so the most produced past the limit.
    static let chunkSize = 1 << 16

    public init(agreement: PerMessageDeflateAgreement) {
        let windowBits = agreement.clientMaxWindowBits
        precondition((8...15).contains(windowBits), "client_max_window_bits \(windowBits) is not in 8...15")
        noContextTakeover = agreement.clientNoContextTakeover
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let result = CZlib_inflateInitRaw(stream, Int32(windowBits))
        // The window is valid, so the only failure left is Z_MEM_ERROR: out of memory, as for any allocation.
        precondition(result == Z_OK, "inflateInit2 failed with \(result)")
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Inflates one message's payload (appending 00 00 ff ff, §7.2.2), failing with 1009 once the output passes
    /// `maxSize` (without producing more than `maxSize` + one chunk), and 1007 for corrupt data. Resets after each
    /// message when client_no_context_takeover was agreed.
    public func decompress(
        _ payload: ByteBuffer,
        maxSize: Int,
        allocator: ByteBufferAllocator
    ) throws(WebSocketFailure) -> ByteBuffer {
        var output = allocator.buffer(capacity: min(payload.readableBytes * 3 + 64, Self.chunkSize, maxSize) + 1)
        try inflate(payload, isFinal: true, into: &output, maxSize: maxSize)
        return output
    }

    /// Inflates one fragment of a message onto `output`, for messages that arrive in fragments: the trailer is added
    /// after the last one, and `maxSize` bounds all of `output`'s readable bytes, earlier fragments included.
    func inflate(
        _ payload: ByteBuffer,
        isFinal: Bool,
        into output: inout ByteBuffer,
        maxSize: Int
    ) throws(WebSocketFailure) {
        var status = payload.withUnsafeReadableBytes { run($0, into: &output, maxSize: maxSize) }
        if status == .ok && isFinal && inputSinceBoundary {
            status = Self.trailer.withUnsafeBytes { run($0, into: &output, maxSize: maxSize) }
            if status == .ok && inputSinceBoundary && !atBlockBoundary {
                status = .corrupt
            }
        }
        if status != .ok || isFinal {
            endMessage(failed: status != .ok)
        }
        switch status {
        case .ok:
            return
        case .tooBig:
            throw .tooBig("message larger than \(maxSize) bytes")
        case .corrupt:
            throw .invalidPayload("corrupt compressed data")
        }
    }

    private enum Status {
        case ok
        case tooBig
        case corrupt
    }

    /// Inflates all of `input` onto `output`, a chunk at a time, until the input is used up and inflate has no more
    /// to give, or the output passes `maxSize`.
    private func run(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer, maxSize: Int) -> Status {
        guard !input.isEmpty else { return .ok }
        inputSinceBoundary = true
        let stream = self.stream
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        defer { stream.pointee.next_in = nil }  // the input's memory is only valid for this call
        while true {
            // One byte past the limit is enough to know it was passed.
            let room = Swift.max(maxSize - output.readableBytes, 0)
            let chunk = Swift.min(room, Self.chunkSize - 1) + 1
            var result = Z_OK
            var filled = false
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: chunk) { writable in
                stream.pointee.next_out = writable.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(chunk)
                result = CZlib.inflate(stream, Z_BLOCK)
                let written = chunk - Int(stream.pointee.avail_out)
                filled = stream.pointee.avail_out == 0
                stream.pointee.next_out = nil
                return written
            }
            if output.readableBytes > maxSize {
                return .tooBig
            }
            if result != Z_BUF_ERROR {
                // Bit 7 of data_type: inflate stopped right after a block (zlib.h, inflate()).
                atBlockBoundary = stream.pointee.data_type & 128 != 0
            }
            let streamEnded: Bool
            switch result {
            case Z_OK:
                // With Z_BLOCK, inflate stops after the final block before it reports the end: bits 6 and 7 of
                // data_type (in the last block, at a block boundary) say the stream is over.
                streamEnded = stream.pointee.data_type & 192 == 192
            case Z_STREAM_END:
                streamEnded = true
            case Z_BUF_ERROR:
                // No progress possible: all input used and nothing pending. With input left it cannot happen, as
                // there was room for output.
                return stream.pointee.avail_in == 0 ? .ok : .corrupt
            case Z_MEM_ERROR:
                preconditionFailure("inflate: out of memory")
            default:
                // Z_DATA_ERROR (not DEFLATE, or a distance beyond the window) or Z_NEED_DICT (never for raw).
                return .corrupt
            }
            if streamEnded {
                // A final block ends zlib's stream; what follows (in §7.2.3.4's example, a 0x00 that the trailer
                // completes into an empty stored block) is read as a new stream with the same window.
                keepWindowAcrossReset()
                atBlockBoundary = true
                inputSinceBoundary = stream.pointee.avail_in > 0
                if !inputSinceBoundary {
                    return .ok
                }
                continue
            }
            if stream.pointee.avail_in == 0 && !filled {
                return .ok
            }
        }
    }

    /// After a final block, zlib's stream is done; reset it but keep the window, which context takeover lets the
    /// rest of the message and the next ones refer to (§7.2.3.4: a final block does not end the LZ77 context).
    private func keepWindowAcrossReset() {
        guard !noContextTakeover else {
            inflateReset(stream)
            return
        }
        withUnsafeTemporaryAllocation(of: Bytef.self, capacity: 1 << 15) { dictionary in
            var length: uInt = 0
            inflateGetDictionary(stream, dictionary.baseAddress, &length)
            inflateReset(stream)
            if length > 0 {
                inflateSetDictionary(stream, dictionary.baseAddress, length)
            }
        }
    }

    /// Ends the message: the state is reset when the client does not take over its context, or when the message
    /// failed (the connection is being closed, but the decompressor stays usable for a fresh stream).
    private func endMessage(failed: Bool) {
        if failed || noContextTakeover {
            inflateReset(stream)
        }
        inputSinceBoundary = false
        atBlockBoundary = true
    }
}

@available(*, unavailable)
extension PerMessageDeflateDecompressor: Sendable {}
