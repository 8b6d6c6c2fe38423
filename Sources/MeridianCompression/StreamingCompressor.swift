public import NIOCore

/// An encoder that turns a response body into one content coding as the body arrives.
///
/// Each call hands back the encoded bytes that are ready, which may be none: an encoder keeps input back until it
/// has enough to code well. ``flush(allocator:)`` forces out everything so far, so that the client can decode every
/// byte sent yet; a stream of events (SSE) needs that after each event, or an event would wait in the encoder for
/// the next one. ``finish(allocator:)`` ends the stream, and the encoder cannot be used after it.
///
/// An encoder owns C state and is not `Sendable`: it belongs to the one event loop (or thread-pool job) that runs
/// the response. The output is always a new buffer, written in place by the C library; the input is read in place.
public protocol StreamingCompressor {
    /// The coding this encoder produces, for `Content-Encoding`.
    var coding: ContentCoding { get }

    /// Encodes `input` and returns the output that is ready, possibly empty.
    mutating func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer

    /// Returns everything still held back, so that what was returned so far decodes to all the input so far.
    /// Each flush costs a few bytes, and a compression ratio that gets worse the smaller the pieces.
    mutating func flush(allocator: ByteBufferAllocator) -> ByteBuffer

    /// Ends the stream: returns the rest of the output and the coding's trailer.
    mutating func finish(allocator: ByteBufferAllocator) -> ByteBuffer
}

extension ByteBuffer {
    /// Lets a C encoder write straight into the buffer: `step` gets at least `minimum` writable bytes, returns how
    /// many it wrote and whether it needs to be called again, and each further call gets twice the space, so a
    /// large output costs a logarithmic number of reallocations.
    mutating func writeEncoded(
        minimum: Int,
        _ step: (UnsafeMutableRawBufferPointer) -> (written: Int, again: Bool)
    ) {
        var space = Swift.max(minimum, 64)
        var again = true
        while again {
            writeWithUnsafeMutableBytes(minimumWritableBytes: space) { writable in
                let result = step(writable)
                again = result.again
                return result.written
            }
            space = Swift.max(space, capacity)
        }
    }
}
