public import Logging
internal import NIOConcurrencyHelpers

/// Where the instances of a cluster agree on their ticket keys (Redis: `SharedTicketKeys` in MeridianCluster).
public protocol TicketKeySharing: Sendable {
    /// Runs one `TicketKeySchedule.advanced` step on the cluster's schedule for `listener` (starting it from
    /// `candidates` when there is none) and answers the cluster's schedule. `candidates` are two fresh keys; the
    /// step uses the first for a rotation, both for a start.
    func exchange(listener: String, now: Int64, rotation: Duration, keep: Int, candidates: [[UInt8]]) async throws -> TicketKeySchedule
}

/// Rotates one TLS listener's generated session-ticket keys: through `sharing` when there is one (every instance
/// then issues and accepts the same tickets, so a client resumes on whichever instance the load balancer picks),
/// alone otherwise — and alone while the shared store is unreachable, after which it adopts the cluster's keys
/// again and keeps the ones it made alone for decryption until their tickets would have expired anyway.
///
/// The rule is `TicketKeySchedule`; this only carries out steps, each with the time it is given, so tests drive it.
public final class TicketKeyRotator: Sendable {
    public let store: TLSCertificateStore
    let sharing: (any TicketKeySharing)?
    let logger: Logger
    let rotation: Duration
    let keep: Int
    private struct State: Sendable {
        var schedule: TicketKeySchedule
        /// Keys this instance encrypted with that the cluster's schedule does not have, and until when they decrypt.
        var orphans: [(key: [UInt8], until: Int64)] = []
        /// Whether a shared step has succeeded yet, and whether the last one failed.
        var joined = false
        var alone = false
    }
    private let state: NIOLockedValueBox<State>

    /// nil when the store does not generate its keys (key files, or no tickets).
    public init?(store: TLSCertificateStore, sharing: (any TicketKeySharing)?, logger: Logger) {
        guard let schedule = store.initialTicketSchedule, let rotation = store.configuration.sessionTicketRotation else { return nil }
        self.store = store
        self.sharing = sharing
        self.logger = logger
        self.rotation = rotation
        self.keep = store.configuration.sessionTicketsKeep
        self.state = NIOLockedValueBox(State(schedule: schedule))
    }

    /// Whether the keys go through a shared store.
    public var isShared: Bool { sharing != nil }

    /// How often `run` steps: well inside a rotation, so a promoted key is everywhere before it encrypts
    /// (the next key is handed out a whole rotation ahead); at most every 30 s, so a restarted Redis is seen soon.
    public var period: Duration { min(rotation / 8, .seconds(30)) }

    /// One step at `now` (milliseconds, wall clock). Steps may overlap (a test's and `run`'s): a shared schedule older
    /// than the one in use is ignored, and the state and the keys in use change together, under the lock.
    public func step(now: Int64 = WallClock.milliseconds()) async {
        let interval = Int64(rotation.components.seconds) * 1000
        let fresh = [TicketKey.randomBytes(), TicketKey.randomBytes()]
        var shared: TicketKeySchedule?
        var failure: String?
        if let sharing {
            do {
                let answer = try await sharing.exchange(listener: store.listener, now: now, rotation: rotation, keep: keep, candidates: fresh)
                if answer.keys.count >= 2, answer.keys.allSatisfy({ $0.count == TicketKeySchedule.keyLength }) {
                    shared = answer
                } else {
                    failure = "the shared schedule holds \(answer.keys.count) key(s) of lengths \(Set(answer.keys.map(\.count)).sorted())"
                }
            } catch {
                failure = "\(error)"
            }
        }
        let orphanCap = 2 * (2 + keep)
        let (event, count, problem) = state.withLockedValue { s -> (String?, Int, String?) in
            var next = s
            var event: String?
            let encrypting = s.schedule.keys[TicketKeySchedule.encryptingIndex]
            if let shared {
                if s.joined, shared.rotatedAt < s.schedule.rotatedAt, s.schedule.keys.contains(shared.keys[TicketKeySchedule.encryptingIndex]) {
                    return (nil, 0, nil)  // an answer older than the one in use (an overlapping step)
                }
                if !shared.keys.contains(encrypting) {
                    // Not a rotation of the schedule we had: our first join (the startup keys, or the ones we rotated
                    // alone while Redis was away), or Redis lost the hash. What we issued with keeps decrypting here for
                    // as long as its tickets live; our next key never encrypted anything.
                    let until = now + interval * Int64(keep)
                    for key in s.schedule.keys.dropFirst() where !shared.keys.contains(key) { next.orphans.append((key, until)) }
                    event = s.joined ? "rejoined the cluster's schedule" : "joined the cluster's schedule"
                } else if shared.keys[TicketKeySchedule.encryptingIndex] != encrypting {
                    event = "rotated (cluster)"
                }
                if s.alone { event = "the shared schedule is reachable again; \(event ?? "joined it")" }
                next.schedule = shared
                next.joined = true
                next.alone = false
            } else {
                var iterator = fresh.makeIterator()
                next.schedule = s.schedule.advanced(now: now, interval: interval, keep: keep) { iterator.next() ?? TicketKey.randomBytes() }
                if next.schedule != s.schedule { event = "rotated (alone)" }
                next.alone = sharing != nil
            }
            // Redis restarting in a loop (or evicting the hash) must not grow the list the decrypt callback scans.
            next.orphans.removeAll { $0.until <= now || next.schedule.keys.contains($0.key) }
            if next.orphans.count > orphanCap { next.orphans.removeFirst(next.orphans.count - orphanCap) }
            let keys = next.schedule.keys + next.orphans.map(\.key)
            do {
                try store.useTicketKeys(keys)
            } catch {
                return (nil, 0, "\(error)")  // the state stays as the keys in use
            }
            let wentAlone = next.alone && !s.alone
            s = next
            return (wentAlone ? "rotating alone: the shared schedule is unreachable" : event, keys.count, nil)
        }
        let metadata: Logger.Metadata = ["listener": "\(store.listener)", "keys": "\(count)"]
        if let problem {
            logger.error("TLS ticket keys: unusable keys, keeping the previous ones", metadata: metadata.merging(["error": "\(problem)"]) { $1 })
        } else if let event {
            if event.hasPrefix("rotating alone") {
                logger.warning("TLS session ticket keys: \(event)", metadata: metadata.merging(["error": "\(failure ?? "?")"]) { $1 })
            } else {
                logger.info("TLS session ticket keys \(event)", metadata: metadata)
            }
        }
    }

    /// Steps every `period` until cancelled.
    public func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: period)
            if Task.isCancelled { return }
            await step()
        }
    }
}
