public import Crypto
internal import Foundation

/// The session cookie's format: `v1.` then base64url(nonce ‖ ciphertext ‖ tag) of AES-256-GCM over a JSON object
/// `{"sub": USER, "exp": UNIX-SECONDS}`, with the cookie's name as additional authenticated data (a value cannot be
/// moved to another cookie).
///
/// GCM both encrypts and authenticates: a cookie that opens was sealed with the key, and its content is private
/// to whoever holds it. An application's login sets it; any language with AES-GCM can (README has a Python one).
public enum SessionCookie {
    static let prefix = "v1."
    /// Longer values are not sessions (browsers cap a cookie at 4 KiB anyway).
    static let maximumLength = 4096

    public struct Contents: Sendable, Equatable {
        public var user: String
        public var expires: Double
    }

    /// Seals `user` until `expires` (UNIX seconds) under `key`: what a login does; Meridian itself only opens.
    public static func seal(user: String, expires: Double, key: SymmetricKey, cookieName: String) throws -> String {
        let payload = try JSONSerialization.data(withJSONObject: ["sub": user, "exp": Int(expires)], options: [.sortedKeys])
        let box = try AES.GCM.seal(payload, using: key, authenticating: Data(cookieName.utf8))
        guard let combined = box.combined else { throw SessionCookieError() }
        return prefix + Base64URL.encode(combined)
    }

    /// The contents, or nil when the value is not a cookie any of `keys` sealed for `cookieName` (expiry is the caller's).
    static func open(_ value: Substring, keys: [SymmetricKey], cookieName: String) -> Contents? {
        guard value.utf8.count <= maximumLength, value.hasPrefix(prefix),
            let combined = Base64URL.decode(ArraySlice(value.utf8.dropFirst(prefix.utf8.count))), combined.count > 28,
            let box = try? AES.GCM.SealedBox(combined: combined)
        else { return nil }
        let aad = Array(cookieName.utf8)
        for key in keys {
            guard let plain = try? AES.GCM.open(box, using: key, authenticating: aad),
                case .object(let members)? = JSONValue.parse(Array(plain)),
                let user = members["sub"]?.stringValue, !user.isEmpty,
                let expires = members["exp"]?.numberValue
            else { continue }
            return Contents(user: user, expires: expires)
        }
        return nil
    }

    /// A 32-byte key from its text: base64 (standard or URL alphabet) or 64 hex digits.
    public static func key(fromText text: String) -> SymmetricKey? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if t.utf8.count == 64, let bytes = hex(t) { return SymmetricKey(data: bytes) }
        let standard = t.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let padded = standard + String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: padded), data.count == 32 else { return nil }
        return SymmetricKey(data: data)
    }

    private static func hex(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var high: UInt8?
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            case 0x41...0x46: v = c - 0x41 + 10
            default: return nil
            }
            if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
        }
        return out
    }
}

struct SessionCookieError: Error, CustomStringConvertible {
    var description: String { "AES-GCM did not produce a combined box" }
}
