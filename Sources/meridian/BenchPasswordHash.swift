import ArgumentParser
import Foundation
import MeridianConfig

/// `meridian bench-password-hash`: what one basic-auth check costs per hash kind (the README's figures). Hidden from
/// help: a measuring tool. Build with `-c release`; the numbers depend on the CPU, so print it with them.
struct BenchPasswordHash: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-password-hash",
        abstract: "Time one password verification for bcrypt (cost 10, 12) and argon2id (OWASP parameters).",
        shouldDisplay: false
    )

    @Option(help: "Verifications per hash kind.")
    var runs = 9

    /// Hashes of "correct horse battery staple" made by pyca/bcrypt 5.0.0 and argon2-cffi 25.1.0.
    static let cases: [(String, String)] = [
        ("bcrypt cost 10", "$2b$10$TIRagMXXyrWE4zygjA1yYesdJvepf8QM5E79zBBECpkymNLE.lYrq"),
        ("bcrypt cost 12", "$2b$12$flL/fcETq3/WM7p0OVJHWOhyRP75C0pGJBDY0K6OfotJ/Tkpa2Guq"),
        ("argon2id m=19456,t=2,p=1", "$argon2id$v=19$m=19456,t=2,p=1$5hb1eJuUnHDycSTcgt/fpA$V1ymmmN9NjhjPJ5G9tijxFjV2H2HqQO64vEKi5aOncg"),
    ]

    func run() throws {
        let password = Array("correct horse battery staple".utf8)
        for (name, encoded) in Self.cases {
            let hash = try PasswordHash(parsing: encoded)
            guard hash.verify(password) else { throw ValidationError("\(name): the fixture does not verify") }  // warm-up
            var samples: [Double] = []
            for _ in 0..<max(1, runs) {
                let start = ContinuousClock.now
                _ = hash.verify(password)
                let elapsed = ContinuousClock.now - start
                samples.append(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15)
            }
            samples.sort()
            print(String(format: "%@: median %.1f ms (min %.1f, max %.1f, %d runs)", name, samples[samples.count / 2], samples[0], samples[samples.count - 1], samples.count))
        }
    }
}
