import NIOCore

extension ByteBuffer {
    /// XORs the readable bytes with the 4-byte masking key, the first readable byte taking key byte 0.
    ///
    /// Every client frame is masked (RFC 6455 §5.3) and unmasking touches each payload byte, so this works eight bytes
    /// at a time: the key repeated twice is one 64-bit word, and masking is the same in either byte order because the
    /// word is loaded and stored with the same one.
    mutating func webSocketUnmask(key: UInt32) {
        // Key byte i (wire order) is `key >> (24 - 8i)`.
        let keyBytes = (
            UInt8(truncatingIfNeeded: key >> 24), UInt8(truncatingIfNeeded: key >> 16),
            UInt8(truncatingIfNeeded: key >> 8), UInt8(truncatingIfNeeded: key)
        )
        withUnsafeMutableReadableBytes { bytes in
            var wide: UInt64 = 0
            withUnsafeMutableBytes(of: &wide) { word in
                for index in 0..<8 {
                    word[index] = Self.keyByte(keyBytes, index)
                }
            }
            var offset = 0
            while offset + 8 <= bytes.count {
                let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                bytes.storeBytes(of: word ^ wide, toByteOffset: offset, as: UInt64.self)
                offset += 8
            }
            while offset < bytes.count {
                bytes[offset] ^= Self.keyByte(keyBytes, offset)
                offset += 1
            }
        }
    }

    private static func keyByte(_ key: (UInt8, UInt8, UInt8, UInt8), _ index: Int) -> UInt8 {
        switch index & 3 {
        case 0: key.0
        case 1: key.1
        case 2: key.2
        default: key.3
        }
    }
}
