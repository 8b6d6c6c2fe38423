/// A string key with its hash computed once, outside any lock.
///
/// `MemoryStore` needs a key's hash twice, to choose the shard and to find the key in the shard's dictionary; a
/// URL-sized key costs tens of nanoseconds to hash, and the second hash would be taken under the shard's lock,
/// where it lengthens every other thread's wait. With this wrapper the string is hashed once before locking and
/// the dictionary hashes only the stored `Int`; equality compares the hashes first, so a probe that meets another
/// key rarely compares strings. The hash is `String.hashValue`, seeded per process, so keys cannot be chosen to
/// collide.
struct HashedKey: Hashable, Sendable {
    let string: String
    let hash: Int

    init(_ string: String) {
        self.string = string
        self.hash = string.hashValue
    }

    static func == (lhs: HashedKey, rhs: HashedKey) -> Bool {
        lhs.hash == rhs.hash && lhs.string == rhs.string
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }
}
