internal import Foundation

/// The Sec-WebSocket-Accept value (RFC 6455 §4.2.2: base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))).
///
/// The value proves to the client that the server read its handshake as a WebSocket one (§1.3); it is computed from
/// the Sec-WebSocket-Key field value as sent, which the server should already have checked is 16 bytes in base64
/// (§4.2.1, item 5).
public enum WebSocketAccept {
    /// The GUID RFC 6455 §1.3 appends to the key.
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key value, e.g. "dGhlIHNhbXBsZSBub25jZQ==" →
    /// "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
    public static func value(forKey key: String) -> String {
        var sha = SHA1()
        sha.update(key.utf8)
        sha.update(guid.utf8)
        return base64(sha.finalize())
    }

    /// Base64 with padding (RFC 4648 §4), Foundation's, as the rest of the module uses.
    static func base64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }
}
