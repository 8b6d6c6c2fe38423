/// The rotation of generated session-ticket keys, as a pure value: no clock, no randomness inside (both are
/// passed in), so the same rule runs locally, in Redis (a Lua transcription, `SharedTicketKeys`) and in tests.
///
/// `keys` is newest first: `keys[0]` is the *next* key, `keys[1]` encrypts, the rest only decrypt. The next key
/// is handed out one rotation ahead of its use so that when any instance promotes it, every other instance can
/// already decrypt the tickets it issues — otherwise each rotation would cost a full handshake for the clients
/// that land on an instance that has not yet picked up the new key (Caddy's shared STEKs have that window).
public struct TicketKeySchedule: Sendable, Equatable {
    /// nginx's 80-byte layout: name(16) ‖ HMAC-SHA256 key(32) ‖ AES-256 key(32).
    public static let keyLength = 80

    public var keys: [[UInt8]]
    /// When `keys[1]` started encrypting, in milliseconds on the clock of whoever rotated.
    public var rotatedAt: Int64

    public init(keys: [[UInt8]], rotatedAt: Int64) {
        self.keys = keys
        self.rotatedAt = rotatedAt
    }

    /// A first schedule: a next key and a current key.
    public static func start(now: Int64, fresh: () -> [UInt8]) -> Self {
        Self(keys: [fresh(), fresh()], rotatedAt: now)
    }

    /// One step at `now`: once `interval` has passed since the last rotation, the next key starts encrypting, a new
    /// next key is made, and at most `keep` keys older than the encrypting one remain. A clock behind `rotatedAt`
    /// (another instance rotated on a clock ahead of ours) rotates nothing.
    public func advanced(now: Int64, interval: Int64, keep: Int, fresh: () -> [UInt8]) -> Self {
        guard keys.count >= 2 else { return .start(now: now, fresh: fresh) }
        guard now - rotatedAt >= interval else { return self }
        return Self(keys: Array(([fresh()] + keys).prefix(2 + keep)), rotatedAt: now)
    }

    /// The index that encrypts in `keys`.
    public static let encryptingIndex = 1
}
