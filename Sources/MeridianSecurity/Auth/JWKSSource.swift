internal import AsyncHTTPClient
internal import Atomics
internal import Foundation
internal import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore

/// A JWKS document (RFC 7517 §5) fetched in the background: at start, every `refresh`, and soon after a token
/// names a key the set does not have (at most once per `minimumInterval`, so unknown `kid`s cannot make Meridian
/// hammer the identity provider). A failed fetch keeps the last good keys and is logged; keys a fetch cannot use
/// are skipped with a warning, the rest still apply.
///
/// The fetch runs in a task of its own on AsyncHTTPClient's shared client, never on a request's path; the task
/// ends when the authenticator that owns this source goes (a reload builds a new one).
final class JWKSSource: Sendable {
    private let task: NIOLockedValueBox<Task<Void, Never>?> = .init(nil)
    private let wanted = ManagedAtomic<Bool>(false)
    /// The largest JWKS document read.
    static let maximumBytes = 1 << 20

    init(url: String, refresh: Duration, minimumInterval: Duration, logger: Logger, apply: @escaping @Sendable ([JWTVerifier.Key]) -> Void) {
        let step = max(Duration.milliseconds(50), min(minimumInterval, .seconds(1)))
        let wanted = self.wanted
        task.withLockedValue {
            $0 = Task {
                var last: ContinuousClock.Instant?
                while !Task.isCancelled {
                    let now = ContinuousClock.now
                    let due = last.map { now - $0 >= refresh || (wanted.load(ordering: .relaxed) && now - $0 >= minimumInterval) } ?? true
                    if due {
                        wanted.store(false, ordering: .relaxed)
                        last = now
                        if let keys = await Self.fetch(url, logger: logger) { apply(keys) }
                    }
                    try? await Task.sleep(for: step)
                }
            }
        }
    }

    deinit {
        task.withLockedValue { $0?.cancel() }
    }

    /// Asks for a fetch as soon as `minimumInterval` allows (a token named an unknown key).
    func refreshSoon() {
        wanted.store(true, ordering: .relaxed)
    }

    static func fetch(_ url: String, logger: Logger) async -> [JWTVerifier.Key]? {
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "accept", value: "application/json")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            guard response.status == .ok else {
                logger.warning("JWKS fetch failed; keeping the previous keys", metadata: ["url": "\(url)", "status": "\(response.status.code)"])
                return nil
            }
            let body = try await response.body.collect(upTo: maximumBytes)
            let set = try JWTVerifier.Key.keySet(fromJWKS: Array(buffer: body))
            for skipped in set.skipped {
                logger.warning(
                    "JWKS key skipped", metadata: ["url": "\(url)", "index": "\(skipped.index)", "kid": "\(skipped.keyID ?? "")", "reason": "\(skipped.reason)"]
                )
            }
            logger.debug("JWKS fetched", metadata: ["url": "\(url)", "keys": "\(set.keys.count)"])
            return set.keys
        } catch {
            logger.warning("JWKS fetch failed; keeping the previous keys", metadata: ["url": "\(url)", "error": "\(error)"])
            return nil
        }
    }
}
