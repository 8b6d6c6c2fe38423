import CZlib
public import NIOCore

/// gzip (RFC 1952) through the system zlib's deflate, as a stream.
///
/// The window and hash table shrink for a body known to be short, as nginx does: deflate's memory is
/// `2^(windowBits+2) + 2^(memLevel+9)` bytes, 256 KiB at full size, and a short body does not use a window larger
/// than itself.
public final class GzipCompressor: StreamingCompressor {
    public var coding: ContentCoding { .gzip }

    /// zlib's state keeps pointers into itself, so it lives at a fixed address rather than in a Swift property.
    private let stream: UnsafeMutablePointer<z_stream>
    private var finished = false

    /// - Parameters:
    ///   - level: 1 (fastest) to 9 (smallest); 0 stores without compressing.
    ///   - expectedLength: the body's length if known, to size the window and hash table for it.
    public init(level: Int, expectedLength: Int? = nil) {
        precondition((0...9).contains(level), "gzip level \(level) is not in 0...9")
        let (windowBits, memLevel) = Self.windowAndMemLevel(expectedLength: expectedLength)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let result = CZlib_deflateInitGzip(stream, Int32(level), windowBits, memLevel)
        // The parameters are valid, so the only failure left is Z_MEM_ERROR: out of memory, as for any allocation.
        precondition(result == Z_OK, "deflateInit2 failed with \(result)")
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    public func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        precondition(!finished, "gzip stream used after finish")
        guard input.readableBytes > 0 else { return allocator.buffer(capacity: 0) }
        return input.withUnsafeReadableBytes { bytes in
            // A quarter of the input fits text at any level; the buffer doubles for anything that compresses worse.
            deflate(bytes, flush: Z_NO_FLUSH, allocator: allocator, capacity: bytes.count / 4 + 256)
        }
    }

    public func flush(allocator: ByteBufferAllocator) -> ByteBuffer {
        precondition(!finished, "gzip stream used after finish")
        return deflate(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_SYNC_FLUSH, allocator: allocator)
    }

    public func finish(allocator: ByteBufferAllocator) -> ByteBuffer {
        precondition(!finished, "gzip stream finished twice")
        finished = true
        return deflate(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH, allocator: allocator)
    }

    /// Runs deflate over `input` until it has taken all of it and, for a flush or finish, has written everything.
    private func deflate(
        _ input: UnsafeRawBufferPointer,
        flush: Int32,
        allocator: ByteBufferAllocator,
        capacity: Int = 256
    ) -> ByteBuffer {
        let stream = self.stream
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        defer { stream.pointee.next_in = nil }  // the input's memory is only valid for this call
        var output = allocator.buffer(capacity: capacity)
        output.writeEncoded(minimum: capacity) { writable in
            stream.pointee.next_out = writable.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(writable.count)
            let result = CZlib.deflate(stream, flush)
            // Z_BUF_ERROR is "no progress possible" (nothing new to flush), not a failure; Z_STREAM_ERROR would be
            // misuse of the stream, which the preconditions above rule out.
            precondition(result == Z_OK || result == Z_BUF_ERROR || result == Z_STREAM_END, "deflate: \(result)")
            let written = writable.count - Int(stream.pointee.avail_out)
            stream.pointee.next_out = nil
            let again: Bool
            switch flush {
            case Z_FINISH:
                again = result != Z_STREAM_END
            case Z_SYNC_FLUSH:
                // A flush is complete when deflate leaves output space unused (zlib.h, deflate()).
                again = stream.pointee.avail_out == 0
            default:
                again = stream.pointee.avail_in > 0
            }
            return (written, again)
        }
        return output
    }

    /// nginx's sizing (ngx_http_gzip_filter_memory): halve the window while the body fits in half of it, less the
    /// 262-byte lookahead, and shrink the hash table with it; the smallest window zlib allows with gzip is 2^9.
    static func windowAndMemLevel(expectedLength: Int?) -> (windowBits: Int32, memLevel: Int32) {
        var windowBits: Int32 = 15
        var memLevel: Int32 = 8
        guard let expectedLength else { return (windowBits, memLevel) }
        while windowBits > 9 && expectedLength < (1 << (windowBits - 1)) - 262 {
            windowBits -= 1
            memLevel -= 1
        }
        return (windowBits, max(memLevel, 1))
    }
}

@available(*, unavailable)
extension GzipCompressor: Sendable {}
