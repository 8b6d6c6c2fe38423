import CZlib
public import NIOCore

/// Compresses the server's messages (RFC 7692 §7.2.1) through the system zlib's raw deflate.
///
/// Each message is deflated and sync-flushed, and the 00 00 ff ff the flush ends with is removed, as §7.2.1 has it.
/// The window is the `server_max_window_bits` agreed (9...15: `negotiate` declines an offer that would need 8, which
/// zlib's raw deflate cannot do). The hash table shrinks with the window as in `GzipCompressor`: deflate's memory is
/// `2^(windowBits+2) + 2^(memLevel+9)` bytes, 256 KiB at 15 bits, and a connection that agreed a small window should
/// not pay for a large table. With `server_no_context_takeover` the state is reset after each message (§7.1.1.1);
/// otherwise the next message may refer back to this one, which is what makes a repeated message smaller.
public final class PerMessageDeflateCompressor {
    /// zlib's state keeps pointers into itself, so it lives at a fixed address rather than in a Swift property.
    private let stream: UnsafeMutablePointer<z_stream>
    private let noContextTakeover: Bool

    /// - Parameters:
    ///   - agreement: the parameters agreed in the handshake.
    ///   - level: 1 (fastest) to 9 (smallest); 0 stores without compressing.
    public init(agreement: PerMessageDeflateAgreement, level: Int) {
        precondition((0...9).contains(level), "deflate level \(level) is not in 0...9")
        let windowBits = agreement.serverMaxWindowBits
        precondition((9...15).contains(windowBits), "server_max_window_bits \(windowBits) is not in 9...15")
        noContextTakeover = agreement.serverNoContextTakeover
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let memLevel = windowBits - 7  // 8, zlib's default, at 15 bits
        let result = CZlib_deflateInitRaw(stream, Int32(level), Int32(windowBits), Int32(memLevel))
        // The parameters are valid, so the only failure left is Z_MEM_ERROR: out of memory, as for any allocation.
        precondition(result == Z_OK, "deflateInit2 failed with \(result)")
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// One whole message's payload compressed (RFC 7692 §7.2.1: sync flush, trailing 00 00 ff ff removed); the
    /// context is reset after each message when server_no_context_takeover was agreed.
    public func compress(_ message: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard message.readableBytes > 0 else {
            // zlib writes nothing for a second flush with no input in between, so an empty message is written here:
            // the header of an empty stored block, which the receiver's trailer completes (§7.2.3.6).
            var empty = allocator.buffer(capacity: 1)
            empty.writeInteger(UInt8(0))
            return empty
        }
        // A quarter of the input fits text at any level; the buffer doubles for anything that compresses worse.
        var output = allocator.buffer(capacity: message.readableBytes / 4 + 64)
        message.withUnsafeReadableBytes { input in
            deflate(input, into: &output)
        }
        // A sync flush always ends with the empty stored block.
        let trailerStart = output.writerIndex - 4
        precondition(output.getInteger(at: trailerStart, as: UInt32.self) == 0x0000_FFFF, "no sync flush trailer")
        output.moveWriterIndex(to: trailerStart)
        if noContextTakeover {
            deflateReset(stream)
        }
        return output
    }

    /// Runs deflate with a sync flush over all of `input` until it has written everything.
    private func deflate(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer) {
        let stream = self.stream
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        defer { stream.pointee.next_in = nil }  // the input's memory is only valid for this call
        var space = Swift.max(output.writableBytes, 64)
        var again = true
        while again {
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: space) { writable in
                stream.pointee.next_out = writable.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(writable.count)
                let result = CZlib.deflate(stream, Z_SYNC_FLUSH)
                // Z_BUF_ERROR is "no progress possible", not a failure; Z_STREAM_ERROR would be misuse of the stream.
                precondition(result == Z_OK || result == Z_BUF_ERROR, "deflate: \(result)")
                // The flush is complete when deflate leaves output space unused (zlib.h, deflate()).
                again = stream.pointee.avail_out == 0
                let written = writable.count - Int(stream.pointee.avail_out)
                stream.pointee.next_out = nil
                return written
            }
            space = Swift.max(space, output.capacity)
        }
    }
}

@available(*, unavailable)
extension PerMessageDeflateCompressor: Sendable {}
