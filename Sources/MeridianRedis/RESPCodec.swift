internal import NIOCore

/// Commands in RESP (an array of bulk strings), written straight into the connection's outgoing buffer; replies
/// are parsed by ``RESPParser``.
///
/// It replaced hiredis's `redisFormatCommandArgv`, which `malloc`ed and `sprintf`ed every command into a block of
/// its own that was then copied into the buffer and freed: two of the ~100 allocations of an L2 cache hit, and the
/// arguments were laid end to end once more before that for its pointer array.
enum RESPEncoder {
    /// Appends `arguments` as one RESP command to `buffer`.
    static func encode(_ arguments: [RedisArgument], into buffer: inout ByteBuffer) {
        // Room for the whole command at once: one growth at most.
        var total = 16
        for argument in arguments { total &+= argument.utf8Count &+ 24 }
        buffer.reserveCapacity(minimumWritableBytes: total)
        header(UInt8(ascii: "*"), arguments.count, into: &buffer)
        for argument in arguments {
            switch argument {
            case .string(let s):
                header(UInt8(ascii: "$"), s.utf8.count, into: &buffer)
                buffer.writeString(s)
            case .bytes(let b):
                header(UInt8(ascii: "$"), b.readableBytes, into: &buffer)
                buffer.writeImmutableBuffer(b)
            }
            buffer.writeInteger(crlf)
        }
    }

    private static let crlf = UInt16(UInt8(ascii: "\r")) << 8 | UInt16(UInt8(ascii: "\n"))

    /// `*3\r\n` or `$5\r\n`: the type byte, `count` in decimal, CRLF.
    static func header(_ type: UInt8, _ count: Int, into buffer: inout ByteBuffer) {
        precondition(count >= 0)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 24) { raw in
            var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, written from the end
            return withUnsafeMutableBytes(of: &digits) { scratch in
                var i = scratch.count
                var n = count
                repeat {
                    i -= 1
                    scratch[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: n % 10)
                    n /= 10
                } while n > 0
                let length = scratch.count - i
                raw[0] = type
                raw.baseAddress!.advanced(by: 1).copyMemory(from: scratch.baseAddress!.advanced(by: i), byteCount: length)
                raw[1 + length] = UInt8(ascii: "\r")
                raw[2 + length] = UInt8(ascii: "\n")
                return 3 + length
            }
        }
    }
}
