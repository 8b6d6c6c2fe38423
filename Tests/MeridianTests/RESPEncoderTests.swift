import NIOCore
import Testing

@testable import MeridianRedis

/// Commands as RESP bytes (the encoder that replaced hiredis's `redisFormatCommandArgv`); a real redis-server reads
/// them in RedisClientTests.
@Suite struct RESPEncoderTests {
    func encoded(_ arguments: [RedisArgument]) -> String {
        var buffer = ByteBuffer()
        RESPEncoder.encode(arguments, into: &buffer)
        return String(buffer: buffer)
    }

    @Test func commandsAreArraysOfBulkStrings() {
        #expect(encoded(["PING"]) == "*1\r\n$4\r\nPING\r\n")
        #expect(encoded(["SET", "k", "v"]) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
        #expect(encoded(["SET", "k", ""]) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n")
        #expect(encoded(["INCRBY", "n", 1_234_567_890]) == "*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$10\r\n1234567890\r\n")
        // Binary-safe (CR, LF, NUL, bytes that are not UTF-8) and multi-byte UTF-8 counted in bytes.
        var buffer = ByteBuffer()
        RESPEncoder.encode(["SET", .string("ключ"), .bytes(ByteBuffer(bytes: [0, 13, 10, 255]))], into: &buffer)
        #expect(Array(buffer.readableBytesView) == Array("*3\r\n$3\r\nSET\r\n$8\r\nключ\r\n$4\r\n".utf8) + [0, 13, 10, 255] + Array("\r\n".utf8))
    }

    @Test func lengthsOfEveryWidth() {
        for length in [0, 9, 10, 99, 100, 65_535, 1_000_000] {
            let value = String(repeating: "x", count: length)
            #expect(encoded(["ECHO", .string(value)]) == "*2\r\n$4\r\nECHO\r\n$\(length)\r\n\(value)\r\n")
        }
        var buffer = ByteBuffer()
        RESPEncoder.header(UInt8(ascii: "*"), Int.max, into: &buffer)
        #expect(String(buffer: buffer) == "*\(Int.max)\r\n")
    }

    @Test func bytesArgumentsAreTheirReadableBytes() {
        var value = ByteBuffer(string: "skip-me:value")
        value.moveReaderIndex(forwardBy: 8)
        #expect(encoded(["SET", "k", .bytes(value)]) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n")
    }

    @Test func commandsAppendToWhatIsThere() {
        var buffer = ByteBuffer(string: "*1\r\n$4\r\nPING\r\n")
        RESPEncoder.encode(["ECHO", "a"], into: &buffer)
        #expect(String(buffer: buffer) == "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\na\r\n")
    }
}
