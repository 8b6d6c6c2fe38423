import MeridianSecurity
import MeridianConfig
import Testing

/// Parsing and verifying stored hashes made by external tools (Fixtures/generate_fixtures.py).
@Suite struct PasswordHashTests {
    @Test(arguments: ExternalHashFixtures.all)
    func externalHashAcceptsItsPassword(_ fixture: ExternalHashFixture) throws {
        let hash = try PasswordHash(parsing: fixture.hash)
        #expect(hash.verify(Array(fixture.password.utf8)))
    }

    @Test(arguments: ExternalHashFixtures.all)
    func externalHashRejectsOtherPasswords(_ fixture: ExternalHashFixture) throws {
        let hash = try PasswordHash(parsing: fixture.hash)
        let password = Array(fixture.password.utf8)
        if fixture.password != ExternalHashFixtures.long72Password {  // bcryptUsesTheFirst72Bytes covers it
            #expect(!hash.verify(password + Array("x".utf8)))
        }
        #expect(!hash.verify(Array("x".utf8) + password))
        if !password.isEmpty {
            #expect(!hash.verify([]))
            #expect(!hash.verify(password.dropLast() + [password.last! ^ 0x01]))
        }
    }

    @Test func algorithmIsRecognised() throws {
        let byTool = Dictionary(grouping: ExternalHashFixtures.all) { String($0.hash.prefix(4)) }
        #expect(try PasswordHash(parsing: byTool["$2a$"]![0].hash).algorithm == .bcrypt)
        #expect(try PasswordHash(parsing: byTool["$2b$"]![0].hash).algorithm == .bcrypt)
        #expect(try PasswordHash(parsing: byTool["$2y$"]![0].hash).algorithm == .bcrypt)
        let argon2id = try #require(ExternalHashFixtures.all.first { $0.hash.hasPrefix("$argon2id$") })
        let argon2i = try #require(ExternalHashFixtures.all.first { $0.hash.hasPrefix("$argon2i$") })
        #expect(try PasswordHash(parsing: argon2id.hash).algorithm == .argon2id)
        #expect(try PasswordHash(parsing: argon2i.hash).algorithm == .argon2i)
    }

    @Test func descriptionNamesParametersNotTheHash() throws {
        let hash = try PasswordHash(parsing: "$2b$05$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtPO")
        #expect(hash.description == "bcrypt $2b$ cost 5")
        #expect(!"\(hash)".contains("I4t5aq"))
        let argon = try PasswordHash(
            parsing: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A")
        #expect(argon.description == "argon2id v=19 m=19456,t=2,p=1")
        #expect(argon.encoded.hasSuffix("Z8A"))
    }

    @Test(arguments: [
        "hunter2",
        "",
        "$",
        "$1$saltsalt$3/7k0Yw0ObJ9lV1Hkb1hZ0",
        "$apr1$saltsalt$3/7k0Yw0ObJ9lV1Hkb1hZ0",
        "$5$rounds=5000$saltsalt$Gcm6FsVtF/Qa77ZKD.iwsJlCVPY0XSMgLJL0Hnww/c1",
        "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/",
        "$argon2d$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$2x$05$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtPO",
        "$2$05$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtPO",
        "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
    ])
    func rejectsOtherFormatsNamingTheAcceptedOnes(_ stored: String) {
        let error = #expect(throws: PasswordHashError.unsupportedFormat) { try PasswordHash(parsing: stored) }
        let message = error?.description ?? ""
        #expect(message.contains("bcrypt"), "\(message)")
        #expect(message.contains("argon2id"), "\(message)")
        #expect(message.contains(#"run "meridian hash-password" to make one"#), "\(message)")
    }

    @Test func unsupportedFormatMessageNamesWhatItSaw() {
        let error = #expect(throws: PasswordHashError.unsupportedFormat) {
            try PasswordHash(parsing: "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8")
        }
        #expect(error?.description.contains("sha512-crypt") == true, "\(String(describing: error))")
        let plain = #expect(throws: PasswordHashError.unsupportedFormat) { try PasswordHash(parsing: "hunter2") }
        // A plain-text password in the config must not be echoed back into logs.
        #expect(plain?.description.contains("hunter2") == false)
    }

    @Test(arguments: [
        // bcrypt: wrong length, cost spelling and range, alphabet, non-canonical trailing characters.
        "$2b$05$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtP",
        "$2b$05$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtPOO",
        "$2b$5$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtPOx",
        "$2b$03$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtPO",
        "$2b$0x$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtPO",
        "$2b$05$I4t5aqrSGJzbXgarOXu7f+B8kA.mYZU.a2261os0yV1Bvj6h3RtPO",
        "$2b$05$I4t5aqrSGJzbXgarOXu7fZB8kA.mYZU.a2261os0yV1Bvj6h3RtPO",
        "$2b$05$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtPP",
        "$2b$05$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3Rt\u{e9}",
        // argon2: version, parameter names and order, numbers, base64, lengths, separators.
        "$argon2id$m=19456,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=16$m=19456,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$t=2,m=19456,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=19456,t=2$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=19456,t=2,p=1,keyid=abc$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=x,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=-1,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=99999999999,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=19456,t=0,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=19456,t=2,p=0$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=15,t=2,p=2$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ=$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHR$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aWg",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A$",
        "$argon2id$v=19$m=19456,t=2,p=1$c29t-XNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        " $argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
    ])
    func rejectsMalformedHashes(_ stored: String) {
        let error = #expect(throws: PasswordHashError.malformed) { try PasswordHash(parsing: stored) }
        #expect(error?.description.contains("meridian hash-password") == true, "\(String(describing: error))")
    }

    @Test(arguments: [
        "$2b$17$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtPO",
        "$2a$31$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtPO",
        "$argon2id$v=19$m=1048577,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2i$v=19$m=19456,t=11,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=19456,t=2,p=17$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
    ])
    func rejectsAbsurdCosts(_ stored: String) {
        let error = #expect(throws: PasswordHashError.tooCostly) { try PasswordHash(parsing: stored) }
        #expect(error?.description.contains("meridian hash-password") == true, "\(String(describing: error))")
    }

    /// The limits themselves parse (verifying them would take seconds, so these tests do not).
    @Test(arguments: [
        "$2b$16$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtPO",
        "$2b$04$I4t5aqrSGJzbXgarOXu7f.B8kA.mYZU.a2261os0yV1Bvj6h3RtPO",
        "$argon2id$v=19$m=1048576,t=10,p=16$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$aWcyMw",
    ])
    func acceptsCostsAtTheLimits(_ stored: String) throws {
        _ = try PasswordHash(parsing: stored)
    }

    /// bcrypt stops at a NUL, so "abc\0xyz" would match "abc"; every format refuses NUL instead.
    @Test(arguments: ExternalHashFixtures.all.filter { !$0.password.isEmpty })
    func passwordWithNULNeverVerifies(_ fixture: ExternalHashFixture) throws {
        let hash = try PasswordHash(parsing: fixture.hash)
        let password = Array(fixture.password.utf8)
        #expect(!hash.verify(password + [0] + Array("xyz".utf8)))
        #expect(!hash.verify(password + [0]))
        #expect(!hash.verify([0] + password))
    }

    /// bcrypt reads 72 bytes; longer passwords verify by their first 72 bytes, as every bcrypt does.
    @Test func bcryptUsesTheFirst72Bytes() throws {
        let fixture = try #require(
            ExternalHashFixtures.all.first { $0.password == ExternalHashFixtures.long72Password })
        let hash = try PasswordHash(parsing: fixture.hash)
        let password = Array(ExternalHashFixtures.long72Password.utf8)
        #expect(password.count == 72)
        #expect(hash.verify(password))
        #expect(hash.verify(password + Array("anything after byte 72".utf8)))
        // Past libxcrypt's 512-byte passphrase limit, which would otherwise make crypt_rn fail.
        #expect(hash.verify(password + [UInt8](repeating: 0x41, count: 600)))
        #expect(!hash.verify(Array(password.prefix(71))))
        #expect(!hash.verify(Array(password.prefix(71)) + Array("X".utf8)))
        #expect(!hash.verify(Array(password.prefix(71)) + Array("X".utf8) + Array("anything".utf8)))
    }

    @Test func argon2idMakesOWASPParameters() throws {
        let password = Array("new p\u{e4}ssword".utf8)
        let encoded = PasswordHash.argon2id(password)
        #expect(encoded.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        #expect(parts.count == 6)
        #expect(parts[4].count == 22)  // 16-byte salt, unpadded base64
        #expect(parts[5].count == 43)  // 32-byte hash
        let hash = try PasswordHash(parsing: encoded)
        #expect(hash.algorithm == .argon2id)
        #expect(hash.verify(password))
        #expect(!hash.verify(Array("new password".utf8)))
        #expect(PasswordHash.argon2id(password) != encoded, "each hash gets a fresh random salt")
    }
}
