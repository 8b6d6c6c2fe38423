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

    /// The Redis keys of one variant of a URL. Those only a fill or an invalidation needs are made when asked for.
    struct Keys: Sendable {
        /// `{prefix}:c:{hash of the URL}`: the hash tag keeps a URL's keys in one cluster slot.
        var tag: String
        var entry: String
        var vary: String { "\(tag):vary" }
        /// `entry:lock`, unless set (a background refresh locks `entry:refresh`; a fill stores under the lock it holds).
        var lock: String {
            get { lockOverride ?? "\(entry):lock" }
            set { lockOverride = newValue }
        }
        private var lockOverride: String?

        init(tag: String, entry: String) {
            self.tag = tag
            self.entry = entry
        }
        var plainEntry: String { "\(tag):0" }
        var variants: String { "\(tag):variants" }
    }

    func keys(primary: String, variant: String?) -> Keys {
        let tag = "\(prefix):c:{\(Self.hash(primary))}"
        let entry = variant.map { "\(tag):\(Self.hash($0))" } ?? "\(tag):0"
        return Keys(tag: tag, entry: entry)
    }

    enum Lookup: Sendable {
        case miss
        case vary([String])
        /// `body` is nil when the entry was not servable without the origin (the caller fetches it if it needs it).
        case entry(CacheEntryMetadata, storedAt: Double, body: ByteBuffer?)
    }

    /// One round trip and no script: `HMGET entry m k t u b`, and when `readVary` the URL's vary marker (`GET`),
    /// written together (``RedisClient/pipeline(_:key:timeout:on:_:)``, no future per command). The HMGET reads
    /// the metadata and the body of one store at once (`HSET` writes them together). `completion` runs on `loop`,
    /// with nil when Redis failed, did not answer within the request budget, or answered with an error.
    ///
    /// It replaced a Lua lookup script plus an `HMGET entry b t` in the same write: two commands, a script run,
    /// and a chain of eight futures per L2 hit (bench/cache.sh: an L2 hit cost more of the server's CPU than
    /// proxying the same 1 KiB from the origin).
    ///
    /// `patient`: bounded by the command timeout instead of the request budget (a request that waited for another
    /// instance's fill looks once more: giving up after a few milliseconds would send it to the origin too).
    func lookup(
        _ keys: Keys, variantKey: String, now: Double, readVary: Bool, patient: Bool = false, on loop: any EventLoop,
        _ completion: @escaping @Sendable (Lookup?) -> Void
    ) {
        var commands: [[RedisArgument]] = [["HMGET", .string(keys.entry), "m", "k", "t", "u", "b"]]
        if readVary { commands.append(["GET", .string(keys.vary)]) }
        client.pipeline(commands, key: keys.entry, timeout: patient ? nil : budget, on: loop) { result in
            guard case .success(let values) = result else { return completion(nil) }
            completion(Self.lookup(values, variantKey: variantKey, now: now))
        }
    }

    /// What the lookup's replies say: `values[0]` the HMGET's, `values[1]` (if read) the vary marker's. Nil for an
    /// error reply (a Redis that refuses, say NOPERM or WRONGTYPE: as if it were unreachable).
    static func lookup(_ values: [RedisValue], variantKey: String, now: Double) -> Lookup? {
        guard case .array(let fields) = values[0], fields.count == 5 else { return nil }
        guard case .bulk(let meta) = fields[0] else {
            // No such entry: the URL's responses vary (its marker names the fields), or nothing is stored.
            guard values.count > 1 else { return .miss }
            switch values[1] {
            case .bulk(let marker): return .vary(marker.readableBytesView.split(separator: UInt8(ascii: ",")).map { String(decoding: $0, as: UTF8.self) })
            case .error: return nil
            default: return .miss
            }
        }
        guard case .bulk(let storedKey) = fields[1], storedKey.readableBytesView.elementsEqual(variantKey.utf8),
            let stored = fields[2].int, let usableUntil = fields[3].int,
            let metadata = meta.withUnsafeReadableBytes({ CacheEntryMetadata(decoding: Array($0)) })
        else { return .miss }
        // Servable without the origin while the entry is usable (fresh or within a stale window), by this clock.
        if usableUntil >= Int64(now * 1000), case .bulk(let body) = fields[4] {
            return .entry(metadata, storedAt: Double(stored) / 1000, body: body)
        }
        return .entry(metadata, storedAt: Double(stored) / 1000, body: nil)
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
        return String(unsafeUninitializedCapacity: 16) { digits in
            for i in (0..<16).reversed() {
                let nibble = UInt8(truncatingIfNeeded: h & 0xF)
                digits[i] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
                h >>= 4
            }
            return 16
        }
    }
}

struct L2Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
