/// bcrypt's cost and variant, checked against the layout crypt_blowfish writes.
///
/// The layout is `$2b$` + two-digit cost + `$` + 22 characters of salt + 31 of hash, in the
/// alphabet `./A-Za-z0-9`. The last salt and hash characters carry unused bits that a real
/// encoder leaves zero; libxcrypt re-encodes the salt when hashing, so a hash with those bits
/// set could never verify. Refusing it at parse time turns a mystery lockout into a config error.
///
/// Passwords longer than 72 bytes verify by their first 72 bytes, as OpenBSD's, libxcrypt's,
/// Go's and Apache's bcrypt do: a hash that `htpasswd -B` made from a long password keeps working
/// when the user types the whole password. The attacker still has to guess 72 bytes, so nothing
/// is lost. (pyca/bcrypt 5 refuses such passwords instead; the NUL case is different: see `verify`.)
package struct BcryptParameters: Sendable, Hashable {
    /// `2a`, `2b` or `2y`. libxcrypt treats them alike except for `2a`'s guard against the
    /// pre-2011 sign-extension bug on 8-bit characters.
    package let variant: String
    package let cost: Int

    static let encodedLength = 60
    package static let passwordLimit = 72
    private static let alphabet = Array("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// `bytes` starts with `$2a$`, `$2b$` or `$2y$`.
    init(parsing bytes: [UInt8]) throws(PasswordHashError) {
        let shape = "bcrypt hashes are 60 characters: $2b$, a two-digit cost, $, then 53 of ./A-Za-z0-9"
        guard bytes.count == Self.encodedLength else {
            throw .malformed("this bcrypt hash is \(bytes.count) characters; \(shape)")
        }
        let digits = bytes[4...5]
        guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            bytes[6] == UInt8(ascii: "$")
        else {
            throw .malformed("the bcrypt cost is not two digits; \(shape)")
        }
        let cost = Int(digits.first! - UInt8(ascii: "0")) * 10 + Int(digits.last! - UInt8(ascii: "0"))
        guard (4...31).contains(cost) else {
            throw .malformed("bcrypt cost \(cost) is outside 04–31")
        }
        guard cost <= PasswordHash.maximumBcryptCost else {
            throw .tooCostly(
                "bcrypt cost \(cost) is above \(PasswordHash.maximumBcryptCost): each step doubles the work, so cost "
                    + "\(cost) is \(1 << (cost - 10))× cost 10 and every login would take seconds (cost 10–12 is usual)"
            )
        }
        let body = bytes[7...]
        guard body.allSatisfy({ Self.alphabet.contains($0) }) else {
            throw .malformed("the bcrypt salt and hash contain a character outside ./A-Za-z0-9")
        }
        // 22 salt characters carry 132 bits for 16 bytes, 31 hash characters 186 bits for 23 bytes.
        let saltLast = Self.alphabet.firstIndex(of: bytes[7 + 21])!
        let hashLast = Self.alphabet.firstIndex(of: bytes[59])!
        guard saltLast % 16 == 0, hashLast % 4 == 0 else {
            throw .malformed("the bcrypt salt or hash does not end as bcrypt writes it (edited or cut short?)")
        }
        self.variant = String(decoding: bytes[1...2], as: UTF8.self)
        self.cost = cost
    }
}
