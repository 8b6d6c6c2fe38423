/// Failed authentications per key (a client address or a user) and the bans they earn: a pure state machine with
/// the clock passed in.
///
/// `maxFailures` failures within `window` ban the key for `ban`; each further ban of the same key doubles, up to
/// `maxBan` (fail2ban's `bantime.increment`), and a key that stays clean for `maxBan` after its last ban starts
/// over. The table holds at most `capacity` keys; when full, the entry that was touched longest ago goes (an
/// attacker spraying addresses costs memory only up to the bound).
public struct BruteForcePolicy<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public struct Settings: Sendable, Equatable {
        public var maxFailures: Int
        public var window: Duration
        public var ban: Duration
        public var maxBan: Duration

        public init(maxFailures: Int = 10, window: Duration = .seconds(600), ban: Duration = .seconds(900), maxBan: Duration = .seconds(86400)) {
            self.maxFailures = maxFailures
            self.window = window
            self.ban = ban
            self.maxBan = maxBan
        }

        /// The length of the `strike`-th ban (1-based): `ban`, doubled per strike, at most `maxBan`.
        public func banLength(strike: Int) -> Duration {
            var d = ban
            for _ in 1..<max(1, strike) where d < maxBan { d = d * 2 }
            return min(d, maxBan)
        }
    }

    public enum Verdict: Equatable, Sendable {
        case counted(failures: Int)
        case banned(for: Duration)
    }

    struct Entry: Sendable {
        var windowStart: Instant
        var failures: Int
        var strikes: Int
        var bannedUntil: Instant?
        var touched: Instant
    }

    public let settings: Settings
    public let capacity: Int
    private(set) var entries: [String: Entry] = [:]

    public init(settings: Settings, capacity: Int = 100_000) {
        self.settings = settings
        self.capacity = capacity
    }

    /// How long `key` stays banned, or nil when it is not.
    public func banRemaining(_ key: String, now: Instant) -> Duration? {
        guard let until = entries[key]?.bannedUntil, now < until else { return nil }
        return now.duration(to: until)
    }

    /// Counts a failure of `key`; the one that reaches `maxFailures` bans it.
    public mutating func failed(_ key: String, now: Instant) -> Verdict {
        var e = entries[key] ?? Entry(windowStart: now, failures: 0, strikes: 0, bannedUntil: nil, touched: now)
        if let until = e.bannedUntil {
            if now < until { return .banned(for: now.duration(to: until)) }
            // Clean for maxBan since the last ban ended: strikes are forgiven.
            if until.duration(to: now) >= settings.maxBan { e.strikes = 0 }
            e.bannedUntil = nil
        }
        if e.windowStart.duration(to: now) >= settings.window {
            e.windowStart = now
            e.failures = 0
        }
        e.failures += 1
        e.touched = now
        var verdict = Verdict.counted(failures: e.failures)
        if e.failures >= settings.maxFailures {
            e.strikes += 1
            let length = settings.banLength(strike: e.strikes)
            e.bannedUntil = now.advanced(by: length)
            e.failures = 0
            e.windowStart = now
            verdict = .banned(for: length)
        }
        store(key, e, now: now)
        return verdict
    }

    /// Bans `key` until `now + length` (a ban decided elsewhere: another instance, through Redis).
    public mutating func ban(_ key: String, for length: Duration, now: Instant) {
        var e = entries[key] ?? Entry(windowStart: now, failures: 0, strikes: 1, bannedUntil: nil, touched: now)
        e.bannedUntil = now.advanced(by: length)
        e.touched = now
        store(key, e, now: now)
    }

    /// Lifts a ban and forgets the key's failures and strikes; returns whether it was banned.
    @discardableResult
    public mutating func lift(_ key: String, now: Instant) -> Bool {
        let wasBanned = banRemaining(key, now: now) != nil
        entries[key] = nil
        return wasBanned
    }

    /// Every key banned now, with the time left, longest first.
    public func bans(now: Instant) -> [(key: String, remaining: Duration)] {
        entries.compactMap { key, e in e.bannedUntil.flatMap { now < $0 ? (key, now.duration(to: $0)) : nil } }
            .sorted { $0.remaining > $1.remaining }
    }

    private mutating func store(_ key: String, _ entry: Entry, now: Instant) {
        if entries[key] == nil, entries.count >= capacity { evict(now: now) }
        entries[key] = entry
    }

    /// Frees a tenth of the table at once (so a full table costs one scan per `capacity / 10` new keys): entries
    /// with nothing left to remember first, then the least recently touched that are not banned (spraying new
    /// keys must not push a ban out), banned ones last.
    private mutating func evict(now: Instant) {
        let target = max(1, capacity / 10)
        var removed = 0
        for (key, e) in entries
        where (e.bannedUntil.map { $0.duration(to: now) >= settings.maxBan } ?? true) && e.windowStart.duration(to: now) >= settings.window {
            entries[key] = nil
            removed += 1
        }
        guard removed < target else { return }
        let victims = entries.sorted { a, b in
            let (aBanned, bBanned) = (a.value.bannedUntil.map { now < $0 } ?? false, b.value.bannedUntil.map { now < $0 } ?? false)
            return aBanned != bBanned ? !aBanned : a.value.touched < b.value.touched
        }
        for (key, _) in victims.prefix(target - removed) { entries[key] = nil }
    }
}
