/// A string key with its hash computed once, outside any lock.
///
/// `MemoryStore` needs a key's hash twice, to choose the shard and to find the key in the shard's dictionary; a
/// URL-sized key costs tens of nanoseconds to hash, and the second hash would be taken under the shard's lock,
/// where it lengthens every other thread's wait. With this wrapper the string is hashed once before locking and
/// the dictionary hashes only the stored `Int`; equality compares the hashes first, so a probe that meets another
/// key rarely compares strings. The hash is `String.hashValue`, seeded per process, so keys cannot be chosen to
/// collide.
///
/// A key's group is its text before the first U+001F (the HTTP cache writes a URL's variants as the URL's key, U+001F,
/// and the request fields that pick the variant): the shard is chosen by the group's hash, so one URL's entries share
/// a shard and a purge of that URL visits one shard, not all.
struct HashedKey: Hashable, Sendable {
    let string: String
    let hash: Int
    /// The hash of the key's group, which picks the shard.
    let groupHash: Int

    init(_ string: String) {
        self.string = string
        self.hash = string.hashValue
        if let separator = string.utf8.firstIndex(of: 0x1F) {
            self.groupHash = String(string[..<separator]).hashValue
        } else {
            self.groupHash = hash
        }
    }

    static func == (lhs: HashedKey, rhs: HashedKey) -> Bool {
        lhs.hash == rhs.hash && lhs.string == rhs.string
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }
}
