/// The parameters of an argon2id/argon2i PHC string, `$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
///
/// Parsed as strictly as libargon2's own decoder (version 1.3 only, parameters in the order
/// m, t, p, unpadded canonical base64), so a hash that parses is one `argon2_verify` can check.
/// `v=19` is required: every current tool writes it, and a hash without it is Argon2 1.0.
package struct Argon2Parameters: Sendable, Hashable {
    package let isArgon2id: Bool
    package let memoryKiB: UInt32
    package let iterations: UInt32
    package let parallelism: UInt32

    /// libargon2's ARGON2_MIN_SALT_LENGTH and ARGON2_MIN_OUTLEN.
    private static let minimumSaltLength = 8
    private static let minimumHashLength = 4

    /// `bytes` starts with `$argon2id$` or `$argon2i$`.
    init(parsing bytes: [UInt8]) throws(PasswordHashError) {
        let shape = "expected $argon2id$v=19$m=…,t=…,p=…$salt$hash"
        let fields = bytes.split(separator: UInt8(ascii: "$"), omittingEmptySubsequences: false)
        // ["", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash]
        if fields.count == 5, fields[2].starts(with: "m=".utf8) {
            throw .malformed("the argon2 version is missing, so this is Argon2 1.0; only v=19 (1.3) is accepted")
        }
        guard fields.count == 6 else {
            throw .malformed("an argon2 hash has 5 $-separated parts, this one has \(fields.count - 1); \(shape)")
        }
        guard fields[2].elementsEqual("v=19".utf8) else {
            throw .malformed("the argon2 version must be v=19 (Argon2 1.3); \(shape)")
        }
        let parameters = fields[3].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard parameters.count == 3,
            let memory = Self.number(parameters[0], named: "m"),
            let iterations = Self.number(parameters[1], named: "t"),
            let parallelism = Self.number(parameters[2], named: "p")
        else {
            throw .malformed("the argon2 parameters must be m=KiB,t=iterations,p=lanes, in that order; \(shape)")
        }
        guard iterations >= 1, parallelism >= 1, UInt64(memory) >= 8 * UInt64(parallelism) else {
            throw .malformed(
                "argon2 needs t ≥ 1, p ≥ 1 and m ≥ 8·p KiB; this hash has m=\(memory),t=\(iterations),p=\(parallelism)")
        }
        guard memory <= PasswordHash.maximumArgon2MemoryKiB,
            iterations <= PasswordHash.maximumArgon2Iterations,
            parallelism <= PasswordHash.maximumArgon2Parallelism
        else {
            throw .tooCostly(
                "m=\(memory),t=\(iterations),p=\(parallelism) is over the limits m ≤ \(PasswordHash.maximumArgon2MemoryKiB) KiB "
                    + "(1 GiB), t ≤ \(PasswordHash.maximumArgon2Iterations), p ≤ \(PasswordHash.maximumArgon2Parallelism): "
                    + "every login would allocate that memory and take seconds (OWASP suggests m=19456,t=2,p=1)"
            )
        }
        guard let salt = Base64.decode(fields[4], padding: .forbidden),
            let hash = Base64.decode(fields[5], padding: .forbidden)
        else {
            throw .malformed("the argon2 salt or hash is not unpadded base64 (A-Za-z0-9+/); \(shape)")
        }
        guard salt.count >= Self.minimumSaltLength, hash.count >= Self.minimumHashLength else {
            throw .malformed(
                "an argon2 salt needs at least 8 bytes and a hash at least 4; this one has \(salt.count) and \(hash.count)"
            )
        }
        self.isArgon2id = fields[1].elementsEqual("argon2id".utf8)
        self.memoryKiB = memory
        self.iterations = iterations
        self.parallelism = parallelism
    }

    /// `name=digits` as a UInt32; nil for anything else, including overflow and signs.
    private static func number(_ field: ArraySlice<UInt8>, named name: String) -> UInt32? {
        let prefix = Array(name.utf8) + [UInt8(ascii: "=")]
        guard field.starts(with: prefix) else { return nil }
        let digits = field.dropFirst(prefix.count)
        guard (1...10).contains(digits.count),
            digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        return UInt32(String(decoding: digits, as: UTF8.self))
    }
}
