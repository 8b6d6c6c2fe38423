import Foundation
import MeridianConfig
import MeridianSecurity
import Testing

/// Hashes made by `PasswordHash.argon2id` (what `meridian hash-password` prints) must verify in another
/// implementation: argon2-cffi from PyPI, which scripts/test.sh installs in the test virtualenv.
@Suite struct PasswordHashInteropTests {
    @Test func argon2idVerifiesInArgon2CFFI() async throws {
        let password = "sp\u{e4}ter: mit Doppelpunkt"
        let encoded = PasswordHash.argon2id(Array(password.utf8))
        #expect(try await Self.pythonVerify(encoded, password) == 0)
        #expect(try await Self.pythonVerify(encoded, password + "!") == 1)
    }

    /// Exit status 0 when argon2-cffi accepts, 1 when it reports a mismatch, 2 on anything else.
    static func pythonVerify(_ encoded: String, _ password: String) async throws -> Int32 {
        let script = """
            import sys
            from argon2 import PasswordHasher
            from argon2.exceptions import VerifyMismatchError
            try:
                PasswordHasher().verify(sys.argv[1], sys.argv[2].encode())
            except VerifyMismatchError:
                sys.exit(1)
            except Exception as e:
                print(repr(e), file=sys.stderr)
                sys.exit(2)
            """
        let (status, output) = try await Subprocess.run("python3", ["-c", script, encoded, password])
        if status == 2 { Issue.record("argon2-cffi failed: \(output)") }
        return status
    }
}
