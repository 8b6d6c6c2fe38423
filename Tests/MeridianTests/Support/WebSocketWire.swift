import Foundation

/// RFC 6455 frames by hand, for the rules a well-behaved client library will not break.
enum WSWire {
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="

    static func handshake(_ path: String, extra: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Key: \(key)\r\n\(extra)\r\n"
    }

    /// A client frame: masked unless told otherwise (the codec tests' encoder, ``TestClient``).
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, mask: Bool = true, declaredLength: UInt64? = nil) -> [UInt8] {
        TestClient.frame(
            opcode, payload, fin: fin, rsv1: rsv & 4 != 0, rsv2: rsv & 2 != 0, rsv3: rsv & 1 != 0, masked: mask, length: declaredLength
        )
    }

    static func text(_ s: String, fin: Bool = true) -> [UInt8] { frame(0x1, Array(s.utf8), fin: fin) }

    static func close(_ code: UInt16, _ reason: String = "") -> [UInt8] {
        frame(0x8, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
    }

    struct Frame: Equatable {
        var fin: Bool
        var opcode: UInt8
        var payload: [UInt8]
        var text: String { String(decoding: payload, as: UTF8.self) }
        var closeCode: UInt16? { opcode == 8 && payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil }
    }

    /// Server frames (unmasked) in `bytes`; the whole ones.
    static func parse(_ bytes: [UInt8]) -> [Frame] { parseCounting(bytes).frames }

    /// The whole frames at the start of `bytes`, and how many bytes they take (a partial frame at the end is left).
    static func parseCounting(_ bytes: [UInt8]) -> (frames: [Frame], used: Int) {
        var frames: [Frame] = []
        var i = 0
        while i + 2 <= bytes.count {
            let fin = bytes[i] & 0x80 != 0
            let opcode = bytes[i] & 0x0F
            var length = Int(bytes[i + 1] & 0x7F)
            var at = i + 2
            if length == 126 {
                guard at + 2 <= bytes.count else { break }
                length = Int(bytes[at]) << 8 | Int(bytes[at + 1])
                at += 2
            } else if length == 127 {
                guard at + 8 <= bytes.count else { break }
                length = bytes[at..<(at + 8)].reduce(0) { $0 << 8 | Int($1) }
                at += 8
            }
            guard at + length <= bytes.count else { break }
            frames.append(Frame(fin: fin, opcode: opcode, payload: Array(bytes[at..<(at + length)])))
            i = at + length
        }
        return (frames, i)
    }
}

extension RawClient {
    /// Opens a WebSocket on `path` over HTTP/1.1; the 101's head.
    static func webSocket(port: Int, path: String, extra: String = "") async throws -> (RawClient, TestResponse) {
        let c = try await RawClient.connect(port: port)
        try await c.send(WSWire.handshake(path, extra: extra))
        let head = try await c.readResponse(head: true)
        return (c, head)
    }

    /// Waits for frames until `condition` holds for them (all received so far).
    func frames(timeout: Duration = .seconds(10), until condition: @escaping ([WSWire.Frame]) -> Bool) async -> [WSWire.Frame] {
        WSWire.parse(await readUntil(timeout: timeout) { condition(WSWire.parse($0)) })
    }
}
