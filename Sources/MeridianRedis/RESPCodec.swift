internal import CHiredis
internal import NIOCore

/// Commands in RESP through hiredis's `redisFormatCommandArgv`; replies are parsed by ``RESPParser``.
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
