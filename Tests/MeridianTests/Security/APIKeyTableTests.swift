import MeridianSecurity
import MeridianConfig
import Testing

/// API keys configured as SHA-256 digests and looked up by the presented key.
@Suite struct APIKeyTableTests {
    @Test func digestHexOfAKnownVector() {
        // FIPS 180-2 appendix B.1.
        #expect(APIKeyTable.digestHex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func findsTheNameOfAPresentedKey() throws {
        let table = try APIKeyTable([
            (name: "deploy", sha256Hex: APIKeyTable.digestHex("mk_live_9f8e7d6c5b4a")),
            (name: "ci", sha256Hex: APIKeyTable.digestHex("mk_live_0123456789").uppercased()),
        ])
        #expect(table.count == 2)
        #expect(table.lookup(Array("mk_live_9f8e7d6c5b4a".utf8)) == "deploy")
        #expect(table.lookup("mk_live_0123456789".utf8) == "ci")
        #expect(table.lookup("mk_live_0123456789".utf8.dropLast()) == nil)
        #expect(table.lookup("mk_live_9f8e7d6c5b4A".utf8) == nil)
        #expect(table.lookup([UInt8]()) == nil)
    }

    @Test func keysOver4KiBAreRejectedWithoutHashing() throws {
        let atLimit = String(repeating: "k", count: APIKeyTable.maximumKeyLength)
        let overLimit = atLimit + "k"
        let table = try APIKeyTable([
            (name: "at-limit", sha256Hex: APIKeyTable.digestHex(atLimit)),
            (name: "over-limit", sha256Hex: APIKeyTable.digestHex(overLimit)),
        ])
        #expect(table.lookup(atLimit.utf8) == "at-limit")
        #expect(table.lookup(overLimit.utf8) == nil, "the digest is in the table; only the length check refuses it")
    }

    @Test func duplicateNamesAreRejectedNamingBothEntries() {
        let error = #expect(throws: APIKeyTableError.duplicateName) {
            try APIKeyTable([
                (name: "deploy", sha256Hex: APIKeyTable.digestHex("one")),
                (name: "ci", sha256Hex: APIKeyTable.digestHex("two")),
                (name: "deploy", sha256Hex: APIKeyTable.digestHex("three")),
            ])
        }
        #expect(error?.entryIndex == 2)
        #expect(error?.description.contains("api key 2") == true, "\(String(describing: error))")
        #expect(error?.description.contains("api key 0") == true, "\(String(describing: error))")
    }

    @Test func duplicateDigestsAreRejectedWhateverTheCase() {
        let digest = APIKeyTable.digestHex("shared")
        let error = #expect(throws: APIKeyTableError.duplicateDigest) {
            try APIKeyTable([(name: "a", sha256Hex: digest), (name: "b", sha256Hex: digest.uppercased())])
        }
        #expect(error?.entryIndex == 1)
        #expect(error?.description.contains("\"a\"") == true, "\(String(describing: error))")
    }

    @Test(arguments: [
        String(repeating: "a", count: 63),
        String(repeating: "a", count: 65),
        String(repeating: "a", count: 63) + "g",
        "sha256:" + String(repeating: "a", count: 64),
        " " + String(repeating: "a", count: 63),
        "",
        String(repeating: "\u{e9}", count: 32),
    ])
    func badHexIsRejectedNamingTheEntry(_ hex: String) {
        let error = #expect(throws: APIKeyTableError.invalidDigest) {
            try APIKeyTable([(name: "good", sha256Hex: APIKeyTable.digestHex("k")), (name: "bad", sha256Hex: hex)])
        }
        #expect(error?.entryIndex == 1)
        #expect(error?.description.contains("api key 1 (\"bad\")") == true, "\(String(describing: error))")
        #expect(error?.description.contains("sha256sum") == true, "\(String(describing: error))")
    }

    @Test func theEmptyKeysDigestAndEmptyNamesAreRejected() {
        #expect(throws: APIKeyTableError.invalidDigest) {
            try APIKeyTable([(name: "empty", sha256Hex: APIKeyTable.digestHex(""))])
        }
        #expect(throws: APIKeyTableError.invalidName) {
            try APIKeyTable([(name: "", sha256Hex: APIKeyTable.digestHex("k"))])
        }
    }
}
