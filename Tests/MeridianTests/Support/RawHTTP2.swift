import Foundation
import NIOCore

/// Hand-built HTTP/2 frames (RFC 9113 §4.1) and a reader for what comes back, so tests can send
/// exactly the malformed or abusive sequences real clients never would.
enum H2 {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    enum FrameType: UInt8 {
        case data = 0, headers = 1, priority = 2, rstStream = 3, settings = 4, pushPromise = 5, ping = 6, goaway = 7,
            windowUpdate = 8, continuation = 9
    }

    struct Flags {
        static let endStream: UInt8 = 0x1
        static let ack: UInt8 = 0x1
        static let endHeaders: UInt8 = 0x4
    }

    enum ErrorCode: UInt32 {
        case noError = 0, protocolError = 1, internalError = 2, flowControlError = 3, settingsTimeout = 4, streamClosed = 5,
            frameSizeError = 6, refusedStream = 7, cancel = 8, compressionError = 9, connectError = 10, enhanceYourCalm = 11
    }

    static func frame(_ type: FrameType, flags: UInt8 = 0, stream: UInt32, _ payload: [UInt8] = []) -> [UInt8] {
        frame(rawType: type.rawValue, flags: flags, stream: stream, payload)
    }

    static func frame(rawType: UInt8, flags: UInt8 = 0, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), rawType, flags]
            + be32(stream & 0x7FFF_FFFF) + payload
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    /// HPACK literal header field without indexing, new name, no Huffman (RFC 7541 §6.2.2).
    static func hpack(_ headers: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in headers {
            out.append(0x00)
            out += length(name.utf8.count) + Array(name.utf8)
            out += length(value.utf8.count) + Array(value.utf8)
        }
        return out
    }

    private static func length(_ n: Int) -> [UInt8] {
        // 7-bit prefix integer (RFC 7541 §5.1), H bit clear.
        if n < 127 { return [UInt8(n)] }
        var out: [UInt8] = [127]
        var rest = n - 127
        while rest >= 128 {
            out.append(UInt8(rest % 128 + 128))
            rest /= 128
        }
        out.append(UInt8(rest))
        return out
    }

    static func request(stream: UInt32, path: String = "/", method: String = "GET", extra: [(String, String)] = [], endStream: Bool = true) -> [UInt8] {
        let headers = [(":method", method), (":scheme", "https"), (":authority", "a.test"), (":path", path)] + extra
        return frame(.headers, flags: Flags.endHeaders | (endStream ? Flags.endStream : 0), stream: stream, hpack(headers))
    }

    static let clientStart: [UInt8] = preface + frame(.settings, stream: 0)

    struct Frame {
        var type: UInt8
        var flags: UInt8
        var stream: UInt32
        var payload: [UInt8]

        var errorCode: UInt32? {
            switch type {
            case FrameType.rstStream.rawValue where payload.count >= 4: return be32(payload, 0)
            case FrameType.goaway.rawValue where payload.count >= 8: return be32(payload, 4)
            default: return nil
            }
        }
    }

    static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    static func parse(_ bytes: [UInt8]) -> [Frame] {
        var frames: [Frame] = []
        var i = 0
        while bytes.count - i >= 9 {
            let n = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            guard bytes.count - i - 9 >= n else { break }
            frames.append(Frame(type: bytes[i + 3], flags: bytes[i + 4], stream: be32(bytes, i + 5) & 0x7FFF_FFFF, payload: Array(bytes[(i + 9)..<(i + 9 + n)])))
            i += 9 + n
        }
        return frames
    }
}
