import Foundation
import MeridianSecurity
import MeridianConfig
import Testing

/// What one verify costs, printed for the record; run in release with
/// `MERIDIAN_PASSWORD_TIMING=1 swift test -c release --filter PasswordHashTimingTests`.
///
/// Not a pass/fail benchmark: the numbers depend on the machine. It is disabled by default because
/// cost-10 and cost-12 bcrypt take a noticeable fraction of a second each.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MERIDIAN_PASSWORD_TIMING"] == "1"))
struct PasswordHashTimingTests {
    /// Hashes of "correct horse battery staple" made by pyca/bcrypt 5.0.0 and argon2-cffi 25.1.0.
    static let cases: [(String, String)] = [
        ("bcrypt cost 10", "$2b$10$TIRagMXXyrWE4zygjA1yYesdJvepf8QM5E79zBBECpkymNLE.lYrq"),
        ("bcrypt cost 12", "$2b$12$flL/fcETq3/WM7p0OVJHWOhyRP75C0pGJBDY0K6OfotJ/Tkpa2Guq"),
        (
            "argon2id m=19456,t=2,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1$5hb1eJuUnHDycSTcgt/fpA$V1ymmmN9NjhjPJ5G9tijxFjV2H2HqQO64vEKi5aOncg"
        ),
    ]

    @Test func oneVerifyEach() throws {
        let password = Array("correct horse battery staple".utf8)
        var lines: [String] = []
        for (name, encoded) in Self.cases {
            let hash = try PasswordHash(parsing: encoded)
            #expect(hash.verify(password), "\(name)")  // warm-up, and proof the work was real
            var samples: [Double] = []
            for _ in 0..<5 {
                let start = ContinuousClock.now
                let ok = hash.verify(password)
                let elapsed = ContinuousClock.now - start
                #expect(ok)
                samples.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3)
            }
            samples.sort()
            lines.append(
                String(
                    format: "%@: median %.1f ms (min %.1f, max %.1f, 5 runs)", name, samples[2], samples[0], samples[4])
            )
        }
        print(lines.joined(separator: "\n"))
    }
}
