internal import CHiredis
internal import NIOCore

/// RESP through hiredis: `redisFormatCommandArgv` writes a command, a `redisReader` parses replies.
/// A reader belongs to one connection and its event loop.
enum RESPEncoder {
    /// Appends `arguments` as one RESP command (an array of bulk strings) to `buffer`.
    static func encode(_ arguments: [RedisArgument], into buffer: inout ByteBuffer) {
        // hiredis takes an array of pointers and lengths: lay the arguments end to end in one block so every
        // pointer stays valid for the call. All three arrays live on the stack for the call (no heap allocation
        // per command on the Swift side; hiredis allocates the formatted command once).
        var total = 0
        for argument in arguments { total += argument.utf8Count }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(total, 1)) { storage in
            withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: arguments.count) { pointers in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: arguments.count) { lengths in
                    var offset = 0
                    for (i, argument) in arguments.enumerated() {
                        let start = storage.baseAddress! + offset
                        let count: Int
                        switch argument {
                        case .string(var s):
                            count = s.withUTF8 { utf8 in
                                if let base = utf8.baseAddress { UnsafeMutableRawPointer(start).copyMemory(from: base, byteCount: utf8.count) }
                                return utf8.count
                            }
                        case .bytes(let b):
                            count = b.withUnsafeReadableBytes { raw in
                                if let base = raw.baseAddress { UnsafeMutableRawPointer(start).copyMemory(from: base, byteCount: raw.count) }
                                return raw.count
                            }
                        }
                        pointers[i] = UnsafeRawPointer(start).assumingMemoryBound(to: CChar.self)
                        lengths[i] = count
                        offset += count
                    }
                    var target: UnsafeMutablePointer<CChar>?
                    let written = redisFormatCommandArgv(&target, Int32(arguments.count), pointers.baseAddress, lengths.baseAddress)
                    guard written > 0, let target else { preconditionFailure("redisFormatCommandArgv failed (out of memory)") }
                    buffer.writeBytes(UnsafeRawBufferPointer(start: target, count: Int(written)))
                    redisFreeCommand(target)
                }
            }
        }
    }
}

/// A hiredis reader: bytes in, replies out, in order.
final class RESPReader {
    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        guard let reader = redisReaderCreate() else { preconditionFailure("redisReaderCreate failed (out of memory)") }
        self.reader = reader
    }

    deinit { redisReaderFree(reader) }

    func feed(_ buffer: ByteBuffer) throws {
        let status = buffer.withUnsafeReadableBytes { bytes in
            redisReaderFeed(reader, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        if status != REDIS_OK { throw RedisError.protocolError(Self.errorText(reader)) }
    }

    /// The next complete reply, or nil when the bytes so far end inside one.
    func next() throws -> RedisValue? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else { throw RedisError.protocolError(Self.errorText(reader)) }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return Self.value(raw.assumingMemoryBound(to: redisReply.self))
    }

    private static func value(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .bulk(ByteBuffer(bytes: UnsafeRawBufferPointer(start: r.str, count: r.len)))
        case REDIS_REPLY_STATUS:
            return .simple(text(r))
        case REDIS_REPLY_ERROR:
            return .error(text(r))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(r.integer))
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_ARRAY:
            var items: [RedisValue] = []
            items.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                if let element = r.element[i] { items.append(value(element)) } else { items.append(.null) }
            }
            return .array(items)
        default:
            return .error("ERR unknown reply type \(r.type)")
        }
    }

    private static func text(_ r: redisReply) -> String {
        String(decoding: UnsafeRawBufferPointer(start: r.str, count: r.len), as: UTF8.self)
    }

    private static func errorText(_ reader: UnsafeMutablePointer<redisReader>) -> String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            let bytes = raw.prefix(while: { $0 != 0 })
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
