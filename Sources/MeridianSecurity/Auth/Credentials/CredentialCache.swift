public import MeridianConfig
internal import Crypto
internal import NIOConcurrencyHelpers

/// A bounded, thread-safe memory of recent successful password checks, so a client that sends
/// the same Basic credentials on every request pays the bcrypt/argon2 cost once per time-to-live.
///
/// Caddy's basic auth does the same. Only successes are recorded: a wrong password always pays
/// the full hash cost, so guessing stays as slow as the hash makes it. Entries are keyed by
/// SHA-256(user ‖ 0x00 ‖ password ‖ 0x00 ‖ stored hash), so a changed password or a new stored
/// hash misses. A user or password containing NUL is never cached: without NUL in the first two
/// fields the separators cannot be confused with content ("a\0b" + "c" vs "a" + "b\0c").
///
/// Time is passed in as a `ContinuousClock.Instant` (monotonic, keeps counting while the machine
/// sleeps, unaffected by wall-clock changes) so tests step time instead of sleeping. An entry is
/// live while `now < recorded + timeToLive`; a hit does not extend it, so a credential removed
/// elsewhere stops working within one time-to-live.
///
/// When full, the oldest entry is evicted. With one time-to-live for all, the oldest is also the
/// next to expire, and failures cannot fill the cache, so only clients with a valid password
/// can push others out — costing those others one more hash, nothing worse.
///
/// What it keeps in memory is a fast hash of recent correct passwords; a memory dump would let
/// an attacker guess them at SHA-256 speed rather than bcrypt speed. That is the price of the
/// cache; a process whose memory is readable also sees the passwords in requests.
public final class CredentialCache: Sendable {
    public let capacity: Int
    public let timeToLive: Duration
    private let state: NIOLockedValueBox<State>

    /// - Parameters:
    ///   - capacity: the most entries held at once (about 100 bytes each); at least 1.
    ///   - timeToLive: how long a success is remembered; more than zero.
    public init(capacity: Int = 1024, timeToLive: Duration = .seconds(300)) {
        precondition(capacity > 0, "CredentialCache capacity must be at least 1")
        precondition(timeToLive > .zero, "CredentialCache timeToLive must be positive")
        self.capacity = capacity
        self.timeToLive = timeToLive
        self.state = NIOLockedValueBox(State(capacity: capacity))
    }

    /// How many entries are held, live or not yet swept.
    public var count: Int {
        state.withLockedValue { $0.recordedAt.count }
    }

    /// True if this user, password and stored hash verified within the last `timeToLive`.
    public func containsSuccess(
        user: String, password: [UInt8], storedHash: String, now: ContinuousClock.Instant
    ) -> Bool {
        guard let key = Self.key(user: user, password: password, storedHash: storedHash) else { return false }
        let timeToLive = self.timeToLive
        return state.withLockedValue { $0.contains(key, now: now, timeToLive: timeToLive) }
    }

    /// Remembers a successful check. Call it only after `PasswordHash.verify` returned true.
    public func recordSuccess(user: String, password: [UInt8], storedHash: String, now: ContinuousClock.Instant) {
        guard let key = Self.key(user: user, password: password, storedHash: storedHash) else { return }
        let timeToLive = self.timeToLive
        state.withLockedValue { $0.record(key, now: now, timeToLive: timeToLive) }
    }

    /// Answers from the cache, or verifies (slowly, outside the lock) and remembers a success.
    /// Blocks for the hash's cost on a miss: call it from a thread pool, not an event loop.
    public func verify(user: String, password: [UInt8], against hash: PasswordHash, now: ContinuousClock.Instant)
        -> Bool
    {
        if containsSuccess(user: user, password: password, storedHash: hash.encoded, now: now) {
            return true
        }
        guard hash.verify(password) else { return false }
        recordSuccess(user: user, password: password, storedHash: hash.encoded, now: now)
        return true
    }

    /// The SHA-256 key, hashed before taking the lock; nil when a field contains NUL.
    private static func key(user: String, password: [UInt8], storedHash: String) -> SHA256Digest? {
        guard !user.utf8.contains(0), !password.contains(0) else { return nil }
        var hasher = SHA256()
        hasher.update(data: Array(user.utf8))
        hasher.update(data: [0])
        hasher.update(data: password)
        hasher.update(data: [0])
        hasher.update(data: Array(storedHash.utf8))
        return hasher.finalize()
    }
}

extension CredentialCache {
    /// The map of entries plus a ring of the order they were recorded in, for oldest-first eviction.
    ///
    /// A ring slot is stale when its key was re-recorded later (the map then holds a newer time);
    /// stale slots are skipped. Every map entry has exactly one current slot and the ring holds
    /// at most `capacity` slots, so the map never exceeds `capacity`.
    fileprivate struct State {
        struct Slot {
            var key: SHA256Digest
            var recordedAt: ContinuousClock.Instant
        }

        var recordedAt: [SHA256Digest: ContinuousClock.Instant] = [:]
        private var ring: [Slot?]
        private var head = 0
        private var used = 0

        init(capacity: Int) {
            ring = Array(repeating: nil, count: capacity)
        }

        mutating func contains(_ key: SHA256Digest, now: ContinuousClock.Instant, timeToLive: Duration) -> Bool {
            guard let time = recordedAt[key] else { return false }
            if now < time + timeToLive { return true }
            recordedAt[key] = nil  // its ring slot is now stale
            return false
        }

        mutating func record(_ key: SHA256Digest, now: ContinuousClock.Instant, timeToLive: Duration) {
            if let time = recordedAt[key], now < time + timeToLive { return }
            // Drop stale and expired slots from the old end; they sit there when time moves forward.
            while used > 0, let oldest = ring[head] {
                if recordedAt[oldest.key] == oldest.recordedAt {
                    guard now >= oldest.recordedAt + timeToLive else { break }
                    recordedAt[oldest.key] = nil
                }
                popOldest()
            }
            if used == ring.count, let oldest = popOldest(), recordedAt[oldest.key] == oldest.recordedAt {
                recordedAt[oldest.key] = nil
            }
            ring[(head + used) % ring.count] = Slot(key: key, recordedAt: now)
            used += 1
            recordedAt[key] = now
        }

        @discardableResult
        private mutating func popOldest() -> Slot? {
            guard used > 0 else { return nil }
            let slot = ring[head]
            ring[head] = nil
            head = (head + 1) % ring.count
            used -= 1
            return slot
        }
    }
}
