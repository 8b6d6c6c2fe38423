public import MeridianConfig
internal import NIOConcurrencyHelpers
public import NIOCore

/// What instances share about brute force: failures counted and bans decided in Redis, bans and lifts announced
/// to every instance (``MeridianCluster/SharedBans``).
public protocol BanSharing: Sendable {
    /// Whether Redis answers now; when not, counting is local.
    var isActive: Bool { get }
    /// Counts a failure of `key` cluster-wide; the answer is the ban's length when the key is (or now becomes)
    /// banned on the cluster, nil when it is not.
    func failed(_ key: String, settings: BruteForcePolicy<ContinuousClock.Instant>.Settings, on eventLoop: any EventLoop)
        -> EventLoopFuture<Duration?>
    /// Lifts a ban everywhere; true when there was one.
    func lift(_ key: String) -> EventLoopFuture<Bool>
    /// Every ban on the cluster, with the time left.
    func bans() -> EventLoopFuture<[(key: String, remaining: Duration)]>
    /// Starts receiving other instances' bans and lifts.
    func start(onBan: @escaping @Sendable (String, Duration) -> Void, onLift: @escaping @Sendable (String) -> Void)
}

/// `brute_force:`: refuses clients and users that failed authentication too often, on every instance.
///
/// The check on each request reads a local table (no Redis call on the request path): bans decided by any
/// instance arrive by pub/sub, and an instance that missed one learns it from the answer to the next failure it
/// reports. Failures go to Redis when it answers (the cluster's count decides) and are counted here otherwise,
/// so losing Redis degrades to per-instance counting rather than to no protection.
public final class BruteForceGuard: Sendable {
    public let config: Configuration.BruteForce
    let table: NIOLockedValueBox<BruteForcePolicy<ContinuousClock.Instant>>
    let sharing: (any BanSharing)?
    let settings: BruteForcePolicy<ContinuousClock.Instant>.Settings

    public init(_ config: Configuration.BruteForce, sharing: (any BanSharing)?) {
        self.config = config
        self.sharing = sharing
        let settings = BruteForcePolicy<ContinuousClock.Instant>.Settings(
            maxFailures: config.maxFailures, window: config.window, ban: config.ban, maxBan: config.maxBan
        )
        self.settings = settings
        self.table = NIOLockedValueBox(BruteForcePolicy(settings: settings))
        sharing?.start(
            onBan: { [table] key, length in table.withLockedValue { $0.ban(key, for: length, now: .now) } },
            onLift: { [table] key in table.withLockedValue { _ = $0.lift(key, now: .now) } }
        )
    }

    /// The keys a request is judged by: its client address and, when the authenticator can tell, the user it claims.
    public func keys(address: String?, user: String?, authenticator: String) -> [String] {
        var keys: [String] = []
        if config.byAddress, let address, !address.isEmpty { keys.append("ip:" + address) }
        // A user-id can be kilobytes long and hold anything: long ones are counted by their digest.
        if config.byUser, let user, !user.isEmpty {
            keys.append("user:\(authenticator):" + (user.utf8.count <= 128 && !user.contains("\n") ? user : "sha256:" + APIKeyTable.digestHex(user)))
        }
        return keys
    }

    /// The longest ban among `keys`, or nil.
    public func banned(_ keys: [String]) -> Duration? {
        guard !keys.isEmpty else { return nil }
        let now = ContinuousClock.now
        return table.withLockedValue { t in keys.compactMap { t.banRemaining($0, now: now) }.max() }
    }

    /// Counts a failed authentication against each key.
    public func failed(_ keys: [String], on eventLoop: any EventLoop) {
        if let sharing, sharing.isActive {
            for key in keys {
                sharing.failed(key, settings: settings, on: eventLoop).whenSuccess { [table] length in
                    if let length { table.withLockedValue { $0.ban(key, for: length, now: .now) } }
                }
            }
            return
        }
        let now = ContinuousClock.now
        table.withLockedValue { t in for key in keys { _ = t.failed(key, now: now) } }
    }

    /// Lifts a ban here and, with Redis, everywhere.
    public func lift(_ key: String, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        let here = table.withLockedValue { $0.lift(key, now: .now) }
        guard let sharing, sharing.isActive else { return eventLoop.makeSucceededFuture(here) }
        return sharing.lift(key).map { $0 || here }
    }

    /// The bans in force: the cluster's with Redis, this instance's without.
    public func bans(on eventLoop: any EventLoop) -> EventLoopFuture<[(key: String, remaining: Duration)]> {
        let local = table.withLockedValue { $0.bans(now: .now) }
        guard let sharing, sharing.isActive else { return eventLoop.makeSucceededFuture(local) }
        return sharing.bans().hop(to: eventLoop)
    }
}
