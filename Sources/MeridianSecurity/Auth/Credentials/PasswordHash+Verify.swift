internal import CArgon2
internal import CCrypt
internal import Crypto
public import MeridianConfig

extension PasswordHash {
    /// True if `password` is the one this hash was made from. Slow by design; see the type's notes.
    ///
    /// A password containing a NUL byte never verifies, whatever the format: bcrypt (through the C
    /// string `crypt_rn` takes) would stop at the NUL, so "abc\0xyz" would pass for "abc". RFC 7617
    /// forbids control characters in Basic credentials, so no honest client sends one.
    /// bcrypt reads only the first 72 bytes; see `BcryptParameters` for why longer ones are accepted.
    public func verify(_ password: [UInt8]) -> Bool {
        guard !password.contains(0) else { return false }
        switch parameters {
        case .bcrypt: return verifyBcrypt(password)
        case .argon2(let argon2): return verifyArgon2(password, argon2)
        }
    }
}

extension PasswordHash {
    /// Hashes with libxcrypt's reentrant `crypt_rn`, using a `struct crypt_data` owned by this
    /// call (the plain `crypt` shares one static buffer between threads), then compares the whole
    /// output with the stored string in constant time.
    func verifyBcrypt(_ password: [UInt8]) -> Bool {
        // Truncating here is what bcrypt does anyway, and it keeps passwords over libxcrypt's
        // 512-byte passphrase limit from turning into an error.
        let phraseLength = min(password.count, BcryptParameters.passwordLimit)
        let phrase = UnsafeMutablePointer<CChar>.allocate(capacity: phraseLength + 1)
        let dataSize = MemoryLayout<crypt_data>.size
        let data = UnsafeMutableRawPointer.allocate(byteCount: dataSize, alignment: MemoryLayout<crypt_data>.alignment)
        // crypt_data must start zeroed; it ends up holding the key schedule, so zero it again after.
        data.initializeMemory(as: UInt8.self, repeating: 0, count: dataSize)
        defer {
            data.initializeMemory(as: UInt8.self, repeating: 0, count: dataSize)
            data.deallocate()
            phrase.initialize(repeating: 0, count: phraseLength + 1)
            phrase.deallocate()
        }
        for index in 0..<phraseLength {
            phrase[index] = CChar(bitPattern: password[index])
        }
        phrase[phraseLength] = 0

        let matched: Bool = encoded.withCString { setting in
            guard let output = crypt_rn(phrase, setting, data, Int32(dataSize)) else { return false }
            var length = 0
            while length < dataSize, output[length] != 0 { length += 1 }
            let computed = UnsafeRawBufferPointer(start: output, count: length)
            return encoded.utf8.withContiguousStorageIfAvailable {
                ConstantTime.equal(computed, UnsafeRawBufferPointer($0))
            } ?? Array(encoded.utf8).withUnsafeBytes { ConstantTime.equal(computed, $0) }
        }
        return matched
    }
}

extension PasswordHash {
    /// OWASP's argon2id parameters (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 lane.
    static let newArgon2MemoryKiB: UInt32 = 19456
    static let newArgon2Iterations: UInt32 = 2
    static let newArgon2Parallelism: UInt32 = 1
    static let newArgon2SaltLength = 16
    static let newArgon2HashLength = 32

    /// Makes a new argon2id PHC string for `password`, with a fresh 16-byte random salt and OWASP's
    /// parameters (m=19456 KiB, t=2, p=1, 32-byte hash). For `meridian hash-password`.
    ///
    /// A password containing a NUL byte yields a hash that `verify` never accepts; the command
    /// should refuse such input. Traps only if libargon2 cannot allocate its 19 MiB.
    public static func argon2id(_ password: [UInt8]) -> String {
        // SymmetricKey draws from the system CSPRNG (getrandom on Linux).
        let salt = SymmetricKey(size: .bits128)
        let capacity = argon2_encodedlen(
            newArgon2Iterations, newArgon2MemoryKiB, newArgon2Parallelism,
            UInt32(newArgon2SaltLength), UInt32(newArgon2HashLength), Argon2_id
        )
        var output = [CChar](repeating: 0, count: capacity)
        let status = salt.withUnsafeBytes { saltBytes in
            password.withUnsafeBytes { passwordBytes in
                output.withUnsafeMutableBufferPointer { encoded in
                    argon2id_hash_encoded(
                        newArgon2Iterations, newArgon2MemoryKiB, newArgon2Parallelism,
                        passwordBytes.baseAddress, passwordBytes.count,
                        saltBytes.baseAddress, saltBytes.count,
                        newArgon2HashLength, encoded.baseAddress, encoded.count
                    )
                }
            }
        }
        guard status == ARGON2_OK.rawValue else {
            fatalError("argon2id_hash_encoded failed: \(String(cString: argon2_error_message(status)))")
        }
        return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `argon2_verify` recomputes the hash with the stored salt and parameters and compares it
    /// with the stored one in constant time (libargon2's `argon2_compare`). It allocates m KiB per
    /// call, which is why m is capped and why callers bound how many run at once.
    func verifyArgon2(_ password: [UInt8], _ parameters: Argon2Parameters) -> Bool {
        let type = parameters.isArgon2id ? Argon2_id : Argon2_i
        let status = encoded.withCString { encoded in
            password.withUnsafeBytes { argon2_verify(encoded, $0.baseAddress, $0.count, type) }
        }
        return status == ARGON2_OK.rawValue
    }
}
