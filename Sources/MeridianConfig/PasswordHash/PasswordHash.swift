/// A stored password hash — bcrypt or argon2id/argon2i — parsed once and checked against passwords.
///
/// Parsing happens when configuration loads, so a pasted plain-text password, a hash cut short or
/// a cost that would make each login take seconds is refused there with a message that says what
/// to do, rather than turning into logins that silently never succeed.
///
/// Parsing lives here, with the configuration, so `meridian validate` reports a bad hash with its line; `verify` and
/// `argon2id(_:)` are MeridianSecurity's (they link libxcrypt and libargon2).
///
/// `verify` is deliberately slow (tens to hundreds of milliseconds, see `PasswordHashTimingTests`):
/// never call it on an event loop. Run it on a thread pool, and put a `CredentialCache` in front
/// so a client that sends the same right password on every request pays the cost once.
///
/// Accepted formats:
/// - bcrypt `$2a$`, `$2b$`, `$2y$` with cost 04–16 (the format allows up to 31), verified with
///   libxcrypt's `crypt_rn`. sha-crypt (`$5$`/`$6$`), md5-crypt (`$1$`, `$apr1$`) and yescrypt
///   are refused: they would need their own cost limits, and `meridian hash-password` makes a
///   better hash than any of them.
/// - argon2id and argon2i PHC strings with `v=19`, m ≤ 1 GiB, t ≤ 10, p ≤ 16, verified with
///   libargon2's `argon2_verify`. argon2d is refused: it is not meant for passwords (RFC 9106 §4).
public struct PasswordHash: Sendable, Hashable, CustomStringConvertible {
    /// Which algorithm a hash uses; a struct so adding one later breaks no `switch`.
    public struct Algorithm: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Sendable, Hashable {
            case bcrypt
            case argon2id
            case argon2i
        }

        private let base: Base

        public static let bcrypt = Algorithm(base: .bcrypt)
        public static let argon2id = Algorithm(base: .argon2id)
        public static let argon2i = Algorithm(base: .argon2i)

        public var description: String {
            switch base {
            case .bcrypt: "bcrypt"
            case .argon2id: "argon2id"
            case .argon2i: "argon2i"
            }
        }
    }

    /// What `init(parsing:)` learned, kept for `verify` (in MeridianSecurity) and `description`.
    package enum Parameters: Sendable, Hashable {
        case bcrypt(BcryptParameters)
        case argon2(Argon2Parameters)
    }

    /// Highest bcrypt cost accepted: 2^16 rounds, about 64 times cost 10. Each step doubles the work.
    public static let maximumBcryptCost = 16
    /// Highest argon2 memory accepted, in KiB (1 GiB), allocated afresh by every verify.
    public static let maximumArgon2MemoryKiB: UInt32 = 1 << 20
    /// Highest argon2 iteration count accepted.
    public static let maximumArgon2Iterations: UInt32 = 10
    /// Highest argon2 parallelism accepted: libargon2 starts this many threads per verify.
    public static let maximumArgon2Parallelism: UInt32 = 16
    /// Longer strings are not hashes; this keeps error paths from touching huge config values.
    static let maximumEncodedLength = 512

    /// The stored string, exactly as given (the salt and parameters live in it).
    public let encoded: String
    package let parameters: Parameters

    /// Parses a stored hash, refusing formats other than bcrypt and argon2id/argon2i, malformed
    /// hashes and cost parameters above the limits above.
    public init(parsing encoded: String) throws(PasswordHashError) {
        let bytes = Array(encoded.utf8)
        guard bytes.count <= Self.maximumEncodedLength else {
            throw .malformed("\(bytes.count) bytes is longer than any bcrypt or argon2 hash")
        }
        let whitespace: [UInt8] = [0x20, 0x09, 0x0A, 0x0D]
        if let first = bytes.first, let last = bytes.last, whitespace.contains(first) || whitespace.contains(last) {
            throw .malformed("it has spaces or a line break around it; remove them")
        }
        if Self.hasPrefix(bytes, "$2a$") || Self.hasPrefix(bytes, "$2b$") || Self.hasPrefix(bytes, "$2y$") {
            self.parameters = .bcrypt(try BcryptParameters(parsing: bytes))
        } else if Self.hasPrefix(bytes, "$argon2id$") || Self.hasPrefix(bytes, "$argon2i$") {
            self.parameters = .argon2(try Argon2Parameters(parsing: bytes))
        } else {
            throw .unsupportedFormat(Self.nameOfUnsupportedFormat(bytes))
        }
        self.encoded = encoded
    }

    public var algorithm: Algorithm {
        switch parameters {
        case .bcrypt: .bcrypt
        case .argon2(let argon2): argon2.isArgon2id ? .argon2id : .argon2i
        }
    }

    /// The algorithm and its cost parameters; never the salt or hash, so it is safe to log.
    public var description: String {
        switch parameters {
        case .bcrypt(let bcrypt):
            "bcrypt $\(bcrypt.variant)$ cost \(bcrypt.cost)"
        case .argon2(let a):
            "\(a.isArgon2id ? "argon2id" : "argon2i") v=19 m=\(a.memoryKiB),t=\(a.iterations),p=\(a.parallelism)"
        }
    }

    public static func == (lhs: PasswordHash, rhs: PasswordHash) -> Bool {
        lhs.encoded == rhs.encoded
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(encoded)
    }

    static func hasPrefix(_ bytes: [UInt8], _ prefix: String) -> Bool {
        bytes.starts(with: prefix.utf8)
    }

    /// Names a refused format for the error, without repeating the value (it may be a password).
    private static func nameOfUnsupportedFormat(_ bytes: [UInt8]) -> String {
        let known: [(prefix: String, name: String)] = [
            ("$1$", "md5-crypt ($1$)"),
            ("$apr1$", "Apache md5 ($apr1$, htpasswd -m)"),
            ("$5$", "sha256-crypt ($5$)"),
            ("$6$", "sha512-crypt ($6$)"),
            ("$y$", "yescrypt ($y$)"),
            ("$7$", "scrypt ($7$)"),
            ("$argon2d$", "argon2d (meant for cryptocurrencies, not passwords)"),
            ("$2x$", "bcrypt $2x$ (crypt_blowfish's compatibility mode for a 2011 bug)"),
            ("$2$", "the original bcrypt $2$"),
            ("{SHA}", "htpasswd's {SHA} (unsalted SHA-1)"),
        ]
        if let match = known.first(where: { hasPrefix(bytes, $0.prefix) }) {
            return match.name
        }
        if bytes.isEmpty {
            return "an empty string"
        }
        guard bytes.first == UInt8(ascii: "$") else {
            return "a value not starting with \"$\" (a plain-text password?)"
        }
        // "$id$…": name the identifier if it looks like one; it is never part of the secret.
        let identifier = bytes.dropFirst().prefix { $0 != UInt8(ascii: "$") }
        let isIdentifier =
            identifier.count <= 16
            && identifier.allSatisfy {
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                    || $0 == UInt8(ascii: "-")
            }
        guard isIdentifier, !identifier.isEmpty else { return "an unrecognised \"$…\" value" }
        return "a \"$\(String(decoding: identifier, as: UTF8.self))$\" hash"
    }
}
