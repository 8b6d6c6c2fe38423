internal import Foundation
internal import Logging
internal import MeridianRedis
internal import NIOConcurrencyHelpers
public import NIOCore

/// The shared tier: entries in Redis (see ``CacheScripts`` for the layout), the cluster-wide fill lock, and the
/// channels on which fills and purges are announced. Every call has the request budget as its deadline: a slow or
/// absent Redis costs a request a few milliseconds at most, then the cache goes on as if L2 had missed.
final class L2Store: Sendable {
    let client: RedisClient
    let prefix: String
    let budget: Duration
    let fillChannel: String
    let purgeChannel: String
    let invalidateChannel: String
    let bansKey: String
    private let lookupScript = RedisScript(CacheScripts.lookup)
    private let storeScript = RedisScript(CacheScripts.store)
    private let lockScript = RedisScript(CacheScripts.lock)
    private let releaseScript = RedisScript(CacheScripts.release)
    private let renewScript = RedisScript(CacheScripts.renew)
    private let purgeScript = RedisScript(CacheScripts.purge)
    private let invalidateScript = RedisScript(CacheScripts.invalidate)
    /// Requests waiting for a fill announcement, by lock key, each with an id to forget it by.
    private let waiters = NIOLockedValueBox<(next: Int, byLock: [String: [(id: Int, wake: @Sendable () -> Void)]])>((0, [:]))

    init(client: RedisClient, prefix: String, budget: Duration) {
        self.client = client
        self.prefix = prefix
        self.budget = budget
        self.fillChannel = "\(prefix):cache:fill"
        self.purgeChannel = "\(prefix):cache:purge"
        self.invalidateChannel = "\(prefix):cache:invalidate"
        self.bansKey = "\(prefix):cache:bans"
    }

    var isAvailable: Bool { !client.isDegraded }

    /// The Redis keys of one variant of a URL.
    struct Keys: Sendable {
        var entry: String
        var vary: String
        var lock: String
        var plainEntry: String
        var variants: String
    }

    func keys(primary: String, variant: String?) -> Keys {
        let tag = "\(prefix):c:{\(Self.hash(primary))}"
        let entry = variant.map { "\(tag):\(Self.hash($0))" } ?? "\(tag):0"
        return Keys(entry: entry, vary: "\(tag):vary", lock: "\(entry):lock", plainEntry: "\(tag):0", variants: "\(tag):variants")
    }

    enum Lookup: Sendable {
        case miss
        case vary([String])
        /// `body` is nil when the entry was not servable without the origin (the caller fetches it if it needs it).
        case entry(CacheEntryMetadata, storedAt: Double, body: ByteBuffer?)
    }

    /// One round trip: the lookup script (metadata) and `HMGET entry b t` sent in the same write (a body through Lua
    /// costs Redis 30 times a plain read). The body is kept only when the entry was servable without the origin and
    /// was stored with this metadata (a revalidation that needs it reads it again).
    ///
    /// `patient`: bounded by the command timeout instead of the request budget (a request that waited for another
    /// instance's fill looks once more: giving up after a few milliseconds would send it to the origin too).
    func lookup(
        _ keys: Keys, variantKey: String, now: Double, readVary: Bool, wantBody: Bool, patient: Bool = false, on loop: any EventLoop
    ) -> EventLoopFuture<Lookup> {
        let arguments: [RedisArgument] = [.string(String(Int64(now * 1000))), readVary ? "1" : "0"]
        let timeout: Duration? = patient ? nil : budget
        let meta = client.run(lookupScript, keys: [keys.entry, keys.vary], arguments: arguments, timeout: timeout, on: loop)
        let body: EventLoopFuture<(ByteBuffer, Int64)?> =
            wantBody
            ? client.send(["HMGET", .string(keys.entry), "b", "t"], key: keys.entry, timeout: timeout, on: loop).map { value in
                guard let pair = value.array, pair.count == 2, case .bulk(let b) = pair[0], let t = pair[1].int else { return nil }
                return (b, t)
            }
            : loop.makeSucceededFuture(nil)
        return meta.and(body).flatMapThrowing { value, bodyValue in
            guard let items = value.array, let kind = items.first?.string else {
                if case .error(let message) = value { throw L2Failure(message) }
                return .miss
            }
            if kind == "V" {
                let fields = items.count > 1 ? (items[1].string ?? "").split(separator: ",").map(String.init) : []
                return .vary(fields)
            }
            guard items.count >= 5, case .bulk(let meta) = items[1], items[2].string == variantKey,
                let metadata = CacheEntryMetadata(decoding: Array(meta.readableBytesView)),
                let stored = items[3].int
            else { return .miss }
            let servable = items[4].int == 1
            // The body must be the one stored with this metadata (another store may land between the two commands).
            if servable, let (b, t) = bodyValue, t == stored {
                return .entry(metadata, storedAt: Double(stored) / 1000, body: b)
            }
            return .entry(metadata, storedAt: Double(stored) / 1000, body: nil)
        }
    }

    /// The body alone (a stale entry turned out to be needed: revalidated by a 304, or served on an error).
    func body(_ keys: Keys, on loop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        client.send(["HGET", .string(keys.entry), "b"], key: keys.entry, timeout: budget, on: loop).map { value in
            if case .bulk(let b) = value { return b }
            return nil
        }
    }

    /// Stores the entry; returns Redis's time of the store (seconds).
    func store(
        _ metadata: CacheEntryMetadata, body: ByteBuffer, keys: Keys, variantKey: String, varyFields: [String], usableUntil: Double,
        timeToLive: Double, lockToken: String?, on loop: any EventLoop
    ) -> EventLoopFuture<Double> {
        let arguments: [RedisArgument] = [
            .bytes(ByteBuffer(bytes: metadata.encoded())), .bytes(body), .string(variantKey), .string(String(Int64(usableUntil * 1000))),
            .string(String(max(1000, Int64(timeToLive * 1000)))), .string(varyFields.joined(separator: ",")),
            .string(lockToken ?? ""), .string(fillChannel), .string(keys.lock),
        ]
        let keyList = [keys.entry, keys.vary, keys.lock, keys.plainEntry, keys.variants]
        return client.run(storeScript, keys: keyList, arguments: arguments, on: loop).flatMapThrowing { value in
            guard let ms = value.int else { throw L2Failure("store: \(value)") }
            return Double(ms) / 1000
        }
    }

    // MARK: The fill lock

    /// `SET NX PX`: true when this request is the one that goes to the origin for the cluster.
    ///
    /// Bounded by the Redis command timeout, not the request budget: the request is a miss on its way to the origin
    /// (a lookup's few milliseconds do not matter there), and an attempt given up on while Redis still runs the
    /// `SET` would send this request to the origin alone *and* leave a lock that makes every other instance wait
    /// for a fill that never comes (seen in scripts/cluster-check.sh: three origin requests for one cold URL under
    /// a 1,000-request burst on a debug build, then a purge that waited out the orphan lock).
    func tryLock(_ keys: Keys, token: String, ttl: Duration, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        return client.send(["SET", .string(keys.lock), .string(token), "NX", "PX", .string(String(TimeAmount(ttl).nanoseconds / 1_000_000))], key: keys.lock, on: loop)
            .flatMapThrowing { value in
                // OOM, READONLY, NOPERM: no lock for anyone; the caller goes to the origin rather than wait.
                if case .error(let message) = value { throw L2Failure(message) }
                return value == .simple("OK")
            }
    }

    enum LockAttempt: Sendable {
        /// This request goes to the origin for the cluster.
        case acquired
        /// Another request holds the lock: wait for its fill.
        case held
        /// The variant was stored meanwhile: read it.
        case stored
    }

    /// The fill lock of a miss (see ``CacheScripts/lock``), bounded by the command timeout as ``tryLock(_:token:ttl:on:)``.
    func tryFillLock(
        _ keys: Keys, token: String, ttl: Duration, variantKey: String, now: Double, newestPurge: Double, on loop: any EventLoop
    ) -> EventLoopFuture<LockAttempt> {
        let arguments: [RedisArgument] = [
            .string(token), .string(String(TimeAmount(ttl).nanoseconds / 1_000_000)), .string(String(Int64(now * 1000))),
            .string(variantKey), .string(String(Int64(newestPurge * 1000))),
        ]
        return client.run(lockScript, keys: [keys.lock, keys.entry], arguments: arguments, on: loop).flatMapThrowing { value in
            switch value.int {
            case 1: return .acquired
            case 0: return .held
            case 2: return .stored
            default:
                if case .error(let message) = value { throw L2Failure(message) }
                throw L2Failure("lock: \(value)")
            }
        }
    }

    func renew(_ keys: Keys, token: String, ttl: Duration, on loop: any EventLoop) {
        _ = client.run(renewScript, keys: [keys.lock], arguments: [.string(token), .string(String(TimeAmount(ttl).nanoseconds / 1_000_000))], on: loop)
    }

    /// Gives the lock up without an entry (the response was not storable, or the fill failed): the waiters go on.
    func release(_ keys: Keys, token: String, on loop: any EventLoop) {
        _ = client.run(releaseScript, keys: [keys.lock], arguments: [.string(token), .string(fillChannel), .string(keys.lock)], on: loop)
    }

    /// Whether someone still holds the lock (a waiter polls it: a holder that died lets it expire).
    func isLocked(_ keys: Keys, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        client.send(["EXISTS", .string(keys.lock)], key: keys.lock, timeout: budget, on: loop).map { $0.int == 1 }
    }

    /// Calls `wake` (once) when a fill of `lock` is announced; returns the id ``forgetWaiter(_:of:)`` takes.
    func onFill(_ lock: String, _ wake: @escaping @Sendable () -> Void) -> Int {
        waiters.withLockedValue { w in
            w.next += 1
            w.byLock[lock, default: []].append((w.next, wake))
            return w.next
        }
    }

    /// A waiter woken otherwise (the poll, its deadline) leaves the list.
    func forgetWaiter(_ id: Int, of lock: String) {
        waiters.withLockedValue { w in
            w.byLock[lock]?.removeAll { $0.id == id }
            if w.byLock[lock]?.isEmpty == true { w.byLock[lock] = nil }
        }
    }

    func fillAnnounced(_ lock: String) {
        let woken = waiters.withLockedValue { $0.byLock.removeValue(forKey: lock) } ?? []
        for waiter in woken { waiter.wake() }
    }

    // MARK: Purges

    func purge(kind: PurgeBan.Kind, value: String, retention: Double, on loop: any EventLoop) -> EventLoopFuture<PurgeBan> {
        let id = UUID().uuidString
        let arguments: [RedisArgument] = [
            .string(kind.rawValue), .string(value), .string(id), .string(purgeChannel), .string(String(Int64(retention * 1000))),
        ]
        return client.run(purgeScript, keys: [bansKey], arguments: arguments, on: loop).flatMapThrowing { value in
            guard let text = value.string, let ban = PurgeBan(json: text) else { throw L2Failure("purge: \(value)") }
            return ban
        }
    }

    /// The rules recorded since `since` (seconds; the same millisecond again, duplicates are dropped by id),
    /// oldest first.
    func bans(since: Double, on loop: any EventLoop) -> EventLoopFuture<[PurgeBan]> {
        client.send(["ZRANGEBYSCORE", .string(bansKey), .string(String(Int64(since * 1000))), "+inf"], key: bansKey, on: loop).map { value in
            (value.array ?? []).compactMap { $0.string.flatMap(PurgeBan.init(json:)) }
        }
    }

    /// Deletes every entry of a URL and tells the instances (`url`: what follows `GET ` in the primary key).
    func invalidate(url: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let k = keys(primary: "GET " + url, variant: nil)
        return client.run(invalidateScript, keys: [k.plainEntry, k.vary, k.variants], arguments: [.string(invalidateChannel), .string(url)], on: loop)
            .flatMapThrowing { value in
                if case .error(let message) = value { throw L2Failure(message) }
            }
    }

    /// FNV-1a, 64 bits, as 16 hex digits: short keys; the full key is stored beside the entry and compared.
    static func hash(_ text: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x100_0000_01b3
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

struct L2Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
