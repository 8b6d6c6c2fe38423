internal import Foundation
public import Logging
internal import NIOConcurrencyHelpers

/// Milliseconds since the epoch: ticket-key rotation times are compared across instances, so wall time.
public enum WallClock {
    public static func milliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

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
        /// Whether a shared step has succeeded yet (the keys made at startup are dropped when joining the cluster).
        var joined = false
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

    /// How often `run` steps: well inside a rotation, so a promoted key is everywhere before it encrypts
    /// (the next key is handed out a whole rotation ahead); at most every 30 s, so a restarted Redis is seen soon.
    public var period: Duration { min(rotation / 8, .seconds(30)) }

    /// One step at `now` (milliseconds, wall clock).
    public func step(now: Int64 = WallClock.milliseconds()) async {
        let interval = Int64(rotation.components.seconds) * 1000
        let fresh = [TicketKey.randomBytes(), TicketKey.randomBytes()]
        var shared: TicketKeySchedule?
        if let sharing {
            do {
                shared = try await sharing.exchange(listener: store.listener, now: now, rotation: rotation, keep: keep, candidates: fresh)
            } catch {
                logger.debug("TLS ticket keys: the shared schedule is unreachable; rotating alone", metadata: ["listener": "\(store.listener)", "error": "\(error)"])
            }
        }
        let (keys, event) = state.withLockedValue { s -> ([[UInt8]], String?) in
            var event: String?
            let encrypting = s.schedule.keys[TicketKeySchedule.encryptingIndex]
            if let shared {
                if !s.joined {
                    event = "joined the cluster's schedule"
                } else if !shared.keys.contains(encrypting) {
                    // Not a rotation of the schedule we had: we rotated alone while Redis was away, or Redis lost the
                    // hash. What we issued with keeps decrypting for as long as its tickets live; our next key never
                    // encrypted anything.
                    let until = now + interval * Int64(keep)
                    for key in s.schedule.keys.dropFirst() where !shared.keys.contains(key) { s.orphans.append((key, until)) }
                    event = "rejoined the cluster's schedule"
                } else if shared.keys[TicketKeySchedule.encryptingIndex] != encrypting {
                    event = "rotated (cluster)"
                }
                s.schedule = shared
                s.joined = true
            } else {
                var iterator = fresh.makeIterator()
                let next = s.schedule.advanced(now: now, interval: interval, keep: keep) { iterator.next() ?? TicketKey.randomBytes() }
                if next != s.schedule { event = "rotated (alone)" }
                s.schedule = next
            }
            s.orphans.removeAll { $0.until <= now || s.schedule.keys.contains($0.key) }
            return (s.schedule.keys + s.orphans.map(\.key), event)
        }
        do {
            try store.useTicketKeys(keys)
        } catch {
            logger.error("TLS ticket keys: unusable keys, keeping the previous ones", metadata: ["listener": "\(store.listener)", "error": "\(error)"])
            return
        }
        if let event { logger.info("TLS session ticket keys \(event)", metadata: ["listener": "\(store.listener)", "keys": "\(keys.count)"]) }
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
