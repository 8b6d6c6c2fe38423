internal import Crypto

/// API keys as configured — a name and the SHA-256 of each key — answering "which key is this?".
///
/// Storing digests means the config file and its backups do not hold usable keys. Lookup hashes
/// the presented key once and finds the digest in a dictionary. That lookup is not constant-time
/// (comparing dictionary keys stops at the first differing byte) and does not need to be: what an attacker could learn from its timing is how much of SHA-256(their guess) matches a
/// stored digest, and since they cannot steer SHA-256's output, a near-match tells them nothing
/// about a key that would produce the stored digest. Finding such a key means a SHA-256 preimage,
/// infeasible for keys with ≥ 128 bits of entropy — which is why this table is for generated
/// keys only; human-chosen passwords need a slow hash (`PasswordHash`).
public struct APIKeyTable: Sendable {
    /// Presented keys longer than this are refused without hashing; real keys are far shorter.
    public static let maximumKeyLength = 4096

    private let names: [[UInt8]: String]

    /// - Parameter entries: each key's name and its SHA-256 as 64 hex digits (either case).
    /// - Throws: `APIKeyTableError` naming the first bad entry by index: an empty or repeated
    ///   name, a digest that is not 64 hex digits, a repeated digest, or the empty key's digest.
    public init(_ entries: [(name: String, sha256Hex: String)]) throws(APIKeyTableError) {
        var names: [[UInt8]: String] = [:]
        var indexByName: [String: Int] = [:]
        var indexByDigest: [[UInt8]: Int] = [:]
        let emptyKeyDigest = Array(SHA256.hash(data: [UInt8]()))
        for (index, entry) in entries.enumerated() {
            guard !entry.name.isEmpty else { throw .invalidName(at: index) }
            if let first = indexByName[entry.name] {
                throw .duplicateName(at: index, name: entry.name, first: first)
            }
            let digest = try Self.digest(fromHex: entry.sha256Hex, index: index, name: entry.name)
            guard digest != emptyKeyDigest else {
                throw .invalidDigest(at: index, name: entry.name, "that is the SHA-256 of the empty string")
            }
            if let first = indexByDigest[digest] {
                throw .duplicateDigest(at: index, name: entry.name, first: first, firstName: entries[first].name)
            }
            indexByName[entry.name] = index
            indexByDigest[digest] = index
            names[digest] = entry.name
        }
        self.names = names
    }

    /// How many keys the table holds.
    public var count: Int { names.count }

    /// The name of the key whose SHA-256 matches `presentedKey`, or nil. Empty keys and keys over
    /// `maximumKeyLength` bytes return nil without being hashed.
    public func lookup(_ presentedKey: some Collection<UInt8>) -> String? {
        let length = presentedKey.count
        guard length > 0, length <= Self.maximumKeyLength else { return nil }
        var hasher = SHA256()
        let hashed: Void? = presentedKey.withContiguousStorageIfAvailable {
            hasher.update(bufferPointer: UnsafeRawBufferPointer($0))
        }
        if hashed == nil {
            hasher.update(data: Array(presentedKey))
        }
        return names[Array(hasher.finalize())]
    }

    /// The lowercase hex SHA-256 of `key`'s UTF-8 bytes: what goes in the config for that key.
    public static func digestHex(_ key: String) -> String {
        let hexDigits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in SHA256.hash(data: Array(key.utf8)) {
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func digest(fromHex hex: String, index: Int, name: String) throws(APIKeyTableError) -> [UInt8] {
        let text = Array(hex.utf8)
        guard text.count == 64 else {
            throw .invalidDigest(at: index, name: name, "sha256 is \(text.count) bytes long, not 64 hex digits")
        }
        var digest: [UInt8] = []
        digest.reserveCapacity(32)
        for position in stride(from: 0, to: 64, by: 2) {
            guard let high = nibble(text[position]), let low = nibble(text[position + 1]) else {
                let bad = nibble(text[position]) == nil ? position : position + 1
                throw .invalidDigest(at: index, name: name, "sha256 has a non-hex character at position \(bad + 1)")
            }
            digest.append(high << 4 | low)
        }
        return digest
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
