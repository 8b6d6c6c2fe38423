import Testing

@testable import MeridianCache

/// The key wrapper must behave exactly like the string it wraps as a dictionary key.
@Suite struct HashedKeyTests {
    @Test func equalityAndHashingFollowTheString() {
        let key = "GET https://example.com/a?x=1"
        #expect(HashedKey(key) == HashedKey(String(key.utf8.map { Character(UnicodeScalar($0)) })))
        #expect(HashedKey(key).hashValue == HashedKey(key).hashValue)
        #expect(HashedKey(key) != HashedKey(key + " "))
        #expect(HashedKey("é") == HashedKey("e\u{301}"), "canonical equivalence, as for String")
        let table = Dictionary(uniqueKeysWithValues: (0..<1000).map { (HashedKey("k\($0)"), $0) })
        let everyKeyFound = (0..<1000).allSatisfy { (i: Int) in table[HashedKey("k\(i)")] == i }
        #expect(everyKeyFound)
    }

    @Test func aKeysGroupIsItsTextBeforeTheUnitSeparator() {
        let primary = "GET https://example.com/a"
        #expect(HashedKey(primary).groupHash == HashedKey(primary).hash)
        #expect(HashedKey(primary + "\u{1F}accept-encoding=gzip").groupHash == HashedKey(primary).hash)
        #expect(HashedKey(primary + "\u{1F}accept-encoding=gzip").hash != HashedKey(primary).hash)
    }
}
