import Testing

@testable import MeridianWebSocket

@Suite("SHA1")
struct SHA1Tests {
    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    @Test(
        "RFC 3174 / FIPS 180 vectors",
        arguments: [
            ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
            ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            ("The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
        ])
    func vectors(input: String, digest: String) {
        #expect(hex(SHA1.hash(input.utf8)) == digest)
    }

    @Test("RFC 3174 test 4: \"01234567\" × 80, across block boundaries")
    func repeated() {
        let input = String(repeating: "0123456701234567012345670123456701234567012345670123456701234567", count: 10)
        #expect(hex(SHA1.hash(input.utf8)) == "dea356a2cddd90c7a7ecedc5ebb563934f460452")
    }

    @Test("a million 'a's")
    func million() {
        #expect(
            hex(SHA1.hash(repeatElement(UInt8(ascii: "a"), count: 1_000_000)))
                == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test(
        "lengths around the padding boundary give the same digest fed whole or in pieces",
        arguments: [55, 56, 63, 64, 65])
    func pieces(length: Int) {
        let input = (0..<length).map { UInt8(truncatingIfNeeded: $0) }
        var sha = SHA1()
        sha.update(input.prefix(length / 3))
        sha.update(input.dropFirst(length / 3))
        #expect(sha.finalize() == SHA1.hash(input))
    }
}
