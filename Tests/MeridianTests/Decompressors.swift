import CBrotli
import CZlib
import MeridianCompression

/// Decoders for the tests: they read what the compressors wrote, including a stream that has been flushed but not
/// finished, in which case they return every byte decodable so far.
enum Decompressors {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The decoded bytes of a gzip stream, and whether the stream was complete (trailer checked).
    static func gunzip(_ input: [UInt8]) throws -> (bytes: [UInt8], complete: Bool) {
        var stream = z_stream()
        guard CZlib_inflateInitGzip(&stream, 15) == Z_OK else { throw Failure(description: "inflateInit2") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var input = input
        return try input.withUnsafeMutableBufferPointer { inputBytes in
            stream.next_in = inputBytes.baseAddress
            stream.avail_in = uInt(inputBytes.count)
            while true {
                let (result, produced) = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    let result = inflate(&stream, Z_NO_FLUSH)
                    return (result, out.count - Int(stream.avail_out))
                }
                output += chunk[..<produced]
                switch result {
                case Z_STREAM_END:
                    guard stream.avail_in == 0 else { throw Failure(description: "bytes after the gzip trailer") }
                    return (output, true)
                case Z_OK where produced > 0 || stream.avail_in > 0:
                    continue
                case Z_OK, Z_BUF_ERROR:
                    return (output, false)  // all input read, stream not ended
                default:
                    throw Failure(description: "inflate: \(result) \(String(cString: stream.msg))")
                }
            }
        }
    }

    /// The decoded bytes of a brotli stream, and whether the stream was complete.
    static func unbrotli(_ input: [UInt8]) throws -> (bytes: [UInt8], complete: Bool) {
        guard let state = BrotliDecoderCreateInstance(nil, nil, nil) else { throw Failure(description: "create") }
        defer { BrotliDecoderDestroyInstance(state) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        return try input.withUnsafeBufferPointer { inputBytes in
            var nextIn = inputBytes.baseAddress
            var availableIn = inputBytes.count
            while true {
                let (result, produced) = chunk.withUnsafeMutableBufferPointer { out in
                    var nextOut = out.baseAddress
                    var availableOut = out.count
                    let result = BrotliDecoderDecompressStream(
                        state, &availableIn, &nextIn, &availableOut, &nextOut, nil)
                    return (result, out.count - availableOut)
                }
                output += chunk[..<produced]
                switch result {
                case BROTLI_DECODER_RESULT_SUCCESS:
                    guard availableIn == 0 else { throw Failure(description: "bytes after the brotli stream") }
                    return (output, true)
                case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
                    continue
                case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
                    return (output, false)
                default:
                    let code = BrotliDecoderGetErrorCode(state)
                    throw Failure(description: "brotli: \(String(cString: BrotliDecoderErrorString(code)))")
                }
            }
        }
    }

    static func decode(_ input: [UInt8], _ coding: ContentCoding) throws -> (bytes: [UInt8], complete: Bool) {
        switch coding {
        case .gzip: try gunzip(input)
        case .brotli: try unbrotli(input)
        case .identity: (input, true)
        }
    }
}
