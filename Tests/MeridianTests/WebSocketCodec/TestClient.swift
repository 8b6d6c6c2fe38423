import MeridianWebSocket
import NIOCore

/// A tiny client-side frame encoder for the tests: masks like a browser (RFC 6455 §5.3), and can break any rule.
enum TestClient {
    static let allocator = ByteBufferAllocator()

    /// One client frame on the wire.
    static func frame(
        _ opcode: UInt8,
        _ payload: [UInt8],
        fin: Bool = true,
        rsv1: Bool = false,
        rsv2: Bool = false,
        rsv3: Bool = false,
        masked: Bool = true,
        mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D],
        length: UInt64? = nil
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.append((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (rsv2 ? 0x20 : 0) | (rsv3 ? 0x10 : 0) | opcode)
        let maskBit: UInt8 = masked ? 0x80 : 0
        let declared = length ?? UInt64(payload.count)
        if declared <= 125 {
            bytes.append(maskBit | UInt8(declared))
        } else if declared <= 0xFFFF {
            bytes.append(maskBit | 126)
            bytes.append(contentsOf: [UInt8(declared >> 8), UInt8(declared & 0xFF)])
        } else {
            bytes.append(maskBit | 127)
            bytes.append(contentsOf: (0..<8).reversed().map { UInt8(truncatingIfNeeded: declared >> (8 * UInt64($0))) })
        }
        if masked {
            bytes.append(contentsOf: mask)
            bytes.append(contentsOf: payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        } else {
            bytes.append(contentsOf: payload)
        }
        return bytes
    }

    static func frame(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true, rsv1: Bool = false) -> [UInt8] {
        frame(opcode.rawValue, Array(text.utf8), fin: fin, rsv1: rsv1)
    }

    static func buffer(_ bytes: [UInt8]) -> ByteBuffer {
        ByteBuffer(bytes: bytes)
    }

    static func buffer(_ text: String) -> ByteBuffer {
        ByteBuffer(string: text)
    }
}
