import CBrotli
public import NIOCore

/// Brotli (RFC 7932) through the system libbrotlienc, as a stream.
///
/// Memory is what limits brotli on a server: a streamed encoder at quality 4–6 peaks near 9–10 MiB with brotli's
/// default 4 MiB window (2^22), 2–3.5 MiB with 2^19 and about 1 MiB with 2^16, while the output on 1 MiB of
/// JavaScript differs by 0.1% between 2^19 and 2^22 (compression-bench). So the default window is 2^19, as in
/// google/ngx_brotli, and a body of known length gets the smallest window that holds it; the length is also passed
/// to the encoder as a size hint.
public final class BrotliCompressor: StreamingCompressor {
    public var coding: ContentCoding { .brotli }

    private let state: OpaquePointer
    private var finished = false

    /// - Parameters:
    ///   - quality: 0 (fastest) to 11 (smallest).
    ///   - window: log2 of the largest window, 10...24: 19 (512 KiB) by default; brotli's own default is 22.
    ///   - expectedLength: the body's length if known, to size the window for it.
    public init(quality: Int, window: Int = 19, expectedLength: Int? = nil) {
        precondition((0...11).contains(quality), "brotli quality \(quality) is not in 0...11")
        precondition((10...24).contains(window), "brotli window \(window) is not in 10...24")
        // Only a failed allocation makes this nil.
        state = BrotliEncoderCreateInstance(nil, nil, nil)!
        var window = UInt32(window)
        if let expectedLength {
            while window > 10 && (1 << (window - 1)) >= expectedLength {
                window -= 1
            }
            set(BROTLI_PARAM_SIZE_HINT, UInt32(clamping: expectedLength))
        }
        set(BROTLI_PARAM_QUALITY, UInt32(quality))
        set(BROTLI_PARAM_LGWIN, window)
    }

    deinit {
        BrotliEncoderDestroyInstance(state)
    }

    public func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        precondition(!finished, "brotli stream used after finish")
        guard input.readableBytes > 0 else { return allocator.buffer(capacity: 0) }
        return input.withUnsafeReadableBytes { bytes in
            encode(bytes, operation: BROTLI_OPERATION_PROCESS, allocator: allocator, capacity: bytes.count / 4 + 256)
        }
    }

    public func flush(allocator: ByteBufferAllocator) -> ByteBuffer {
        precondition(!finished, "brotli stream used after finish")
        return encode(
            UnsafeRawBufferPointer(start: nil, count: 0), operation: BROTLI_OPERATION_FLUSH, allocator: allocator)
    }

    public func finish(allocator: ByteBufferAllocator) -> ByteBuffer {
        precondition(!finished, "brotli stream finished twice")
        finished = true
        return encode(
            UnsafeRawBufferPointer(start: nil, count: 0),
            operation: BROTLI_OPERATION_FINISH,
            allocator: allocator
        )
    }

    /// Runs the encoder over `input` until it has taken all of it and, for a flush or finish, has written
    /// everything (encode.h, BrotliEncoderCompressStream).
    private func encode(
        _ input: UnsafeRawBufferPointer,
        operation: BrotliEncoderOperation,
        allocator: ByteBufferAllocator,
        capacity: Int = 256
    ) -> ByteBuffer {
        let state = self.state
        var nextIn = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        var availableIn = input.count
        var output = allocator.buffer(capacity: capacity)
        output.writeEncoded(minimum: capacity) { writable in
            var nextOut: UnsafeMutablePointer<UInt8>? = writable.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var availableOut = writable.count
            let ok = BrotliEncoderCompressStream(state, operation, &availableIn, &nextIn, &availableOut, &nextOut, nil)
            // It fails only when misused (an operation changed before it completed, input after finish).
            precondition(ok == BROTLI_TRUE, "BrotliEncoderCompressStream failed")
            let again: Bool
            if operation == BROTLI_OPERATION_FINISH {
                again = BrotliEncoderIsFinished(state) == BROTLI_FALSE
            } else {
                again = availableIn > 0 || BrotliEncoderHasMoreOutput(state) == BROTLI_TRUE
            }
            return (writable.count - availableOut, again)
        }
        return output
    }

    private func set(_ parameter: BrotliEncoderParameter, _ value: UInt32) {
        let ok = BrotliEncoderSetParameter(state, parameter, value)
        precondition(ok == BROTLI_TRUE, "BrotliEncoderSetParameter(\(parameter), \(value)) failed")
    }
}

@available(*, unavailable)
extension BrotliCompressor: Sendable {}
