public import AsyncHTTPClient
public import Foundation
public import Logging
public import MeridianCore
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOHTTP1
internal import X509

/// Fetches each TLS certificate's OCSP response from the responder its certificate names (Authority Information
/// Access), verifies it against the issuer (nginx's `ssl_stapling_verify`), and staples it; refreshes it halfway
/// through its validity; keeps the last good response through failed fetches for as long as it is valid, then
/// staples nothing rather than an expired response (clients reject those). Failures are logged and counted.
///
/// Certificates with an `ocsp` file are not fetched (air-gapped use). The decisions are `OCSPRefreshSchedule`'s;
/// this carries them out, each pass at the time it is given (`refreshDue(now:)`), so tests drive it.
public final class OCSPStapling: Sendable {
    let stores: [TLSCertificateStore]
    let logger: Logger
    let client: HTTPClient
    let schedule = OCSPRefreshSchedule()
    /// The longest a responder may take; its response may be no larger than this.
    static let timeout: TimeAmount = .seconds(10)
    static let maxResponseBytes = 64 * 1024

    struct Tracked: Sendable {
        var lastGood: OCSPStatus?
        var failures = 0
        var nextAttempt: Date
    }
    /// By listener and leaf: a certificate on two listeners (IPv4 and IPv6, 443 and 8443) is stapled on both.
    struct Key: Hashable {
        var listener: String
        var leaf: [UInt8]
    }
    private let tracked = NIOLockedValueBox<[Key: Tracked]>([:])
    /// Leaves already reported as not stapleable (no responder URL, no issuer in the chain): said once.
    private let reported = NIOLockedValueBox<Set<[UInt8]>>([])

    public init(stores: [TLSCertificateStore], logger: Logger, client: HTTPClient = .shared) {
        self.stores = stores
        self.logger = logger
        self.client = client
    }

    /// Whether any TLS listener fetches OCSP responses (a certificate reloaded later may name a responder).
    public var hasWork: Bool { stores.contains { $0.configuration.fetchOCSP } }

    /// The pass running or last run: passes run one after another, so two never fetch the same response at once.
    private let lastPass = NIOLockedValueBox<Task<Void, Never>?>(nil)

    /// One pass at `now`: fetches what is due (new certificates at once), unstaples what has expired. Waits for a
    /// pass under way to finish first.
    public func refreshDue(now: Date = Date()) async {
        let task = lastPass.withLockedValue { last -> Task<Void, Never> in
            let previous = last
            let next = Task { [self] in
                await previous?.value
                await pass(now: now)
            }
            last = next
            return next
        }
        await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
    }

    private func pass(now: Date) async {
        var live: Set<Key> = []
        for store in stores where store.configuration.fetchOCSP {
            for subject in store.ocspSubjects {
                if Task.isCancelled { return }
                let key = Key(listener: store.listener, leaf: subject.chain[0])
                live.insert(key)
                guard let (leaf, issuer, url) = prepare(subject, store: store) else { continue }
                let entry = tracked.withLockedValue { $0[key] }
                if let good = entry?.lastGood, !schedule.isStapleUsable(lastGood: good, now: now) {
                    store.staple(nil, forLeaf: key.leaf, validUntil: nil, subject: subject)
                    logger.error("OCSP: the stapled response expired and no new one was fetched; stapling nothing", metadata: meta(store, subject, url))
                    tracked.withLockedValue { $0[key]?.lastGood = nil }
                }
                if let entry, entry.nextAttempt > now { continue }
                await fetch(subject, key: key, leaf: leaf, issuer: issuer, url: url, store: store, now: now)
            }
        }
        tracked.withLockedValue { t in t = t.filter { live.contains($0.key) } }  // replaced certificates
    }

    /// Passes every 10 s (each fetches only what is due) until cancelled.
    public func run() async {
        while !Task.isCancelled {
            await refreshDue()
            try? await Task.sleep(for: .seconds(10))
        }
    }

    private func prepare(_ subject: TLSCertificateStore.OCSPSubject, store: TLSCertificateStore) -> (Certificate, Certificate, String)? {
        let leafDER = subject.chain[0]
        func once(_ message: Logger.Message) -> (Certificate, Certificate, String)? {
            if reported.withLockedValue({ $0.insert(leafDER).inserted }) {
                logger.notice(message, metadata: ["listener": "\(store.listener)", "certificate": "\(subject.names.first ?? "?")"])
            }
            return nil
        }
        guard let leaf = try? Certificate(derEncoded: leafDER) else { return nil }
        guard let url = OCSPRequestBuilder.responderURL(of: leaf) else { return nil }  // no OCSP responder: nothing to staple
        guard subject.chain.count >= 2, let issuer = try? Certificate(derEncoded: subject.chain[1]) else {
            return once("OCSP stapling needs the issuer: the certificate file holds only the leaf; append the intermediate certificate")
        }
        return (leaf, issuer, url)
    }

    private func meta(_ store: TLSCertificateStore, _ subject: TLSCertificateStore.OCSPSubject, _ url: String) -> Logger.Metadata {
        ["listener": "\(store.listener)", "certificate": "\(subject.names.first ?? "?")", "responder": "\(url)"]
    }

    private func fetch(
        _ subject: TLSCertificateStore.OCSPSubject, key: Key, leaf: Certificate, issuer: Certificate, url: String, store: TLSCertificateStore, now: Date
    ) async {
        let leafDER = key.leaf
        do {
            let request = try OCSPRequestBuilder.request(leaf: leaf, issuer: issuer)
            let der = try await post(request, to: url)
            let status = try OCSPResponseVerifier.verify(der, leaf: leaf, issuer: issuer, now: now)
            switch status.certStatus {
            case .good:
                break
            case .revoked(let at, _):
                // As nginx: only a good answer is stapled, and an earlier good one is not kept for a revoked certificate.
                store.staple(nil, forLeaf: leafDER, validUntil: nil, subject: subject)
                store.ocspRevoked.wrappingIncrement(ordering: .relaxed)
                let next = schedule.nextRetry(afterFailures: 1, lastGood: nil, now: now)
                tracked.withLockedValue { $0[key] = Tracked(lastGood: nil, failures: 0, nextAttempt: next) }
                logger.error("OCSP: the certificate is REVOKED (since \(at)); stapling nothing. Replace the certificate", metadata: meta(store, subject, url))
                return
            case .unknown:
                throw OCSPFetchError(description: "the responder does not know this certificate (status unknown)")
            }
            store.staple(der, forLeaf: leafDER, validUntil: status.nextUpdate?.timeIntervalSince1970, subject: subject)
            store.ocspFetches.wrappingIncrement(ordering: .relaxed)
            let next = schedule.nextRefresh(after: status, now: now)
            tracked.withLockedValue { $0[key] = Tracked(lastGood: status, failures: 0, nextAttempt: next) }
            logger.debug("OCSP response stapled", metadata: meta(store, subject, url).merging(["next_refresh": "\(next)"]) { $1 })
        } catch {
            store.ocspFetchFailures.wrappingIncrement(ordering: .relaxed)
            let (failures, next, keeping) = tracked.withLockedValue { t -> (Int, Date, Bool) in
                var entry = t[key] ?? Tracked(nextAttempt: now)
                entry.failures += 1
                entry.nextAttempt = schedule.nextRetry(afterFailures: entry.failures, lastGood: entry.lastGood, now: now)
                t[key] = entry
                return (entry.failures, entry.nextAttempt, entry.lastGood != nil)
            }
            logger.warning(
                "OCSP fetch failed; \(keeping ? "keeping the last good response" : "nothing stapled")",
                metadata: meta(store, subject, url).merging(["error": "\(error)", "failures": "\(failures)", "retry_at": "\(next)"]) { $1 }
            )
        }
    }

    /// POST (RFC 6960 appendix A.1), bounded in size, and in time as a whole: AHC's deadline covers only the wait for
    /// the response head, and a responder trickling its body would otherwise hold every later certificate's refresh.
    private func post(_ request: [UInt8], to url: String) async throws -> [UInt8] {
        try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            group.addTask { try await self.exchange(request, with: url) }
            group.addTask {
                try await Task.sleep(for: .seconds(Self.timeout.nanoseconds / 1_000_000_000))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let body = first else {
                throw OCSPFetchError(description: "the responder took longer than \(Self.timeout.nanoseconds / 1_000_000_000) s")
            }
            return body
        }
    }

    private func exchange(_ request: [UInt8], with url: String) async throws -> [UInt8] {
        var http = HTTPClientRequest(url: url)
        http.method = .POST
        http.headers.add(name: "content-type", value: "application/ocsp-request")
        http.headers.add(name: "accept", value: "application/ocsp-response")
        http.body = .bytes(ByteBuffer(bytes: request))
        let response = try await client.execute(http, timeout: Self.timeout)
        guard response.status == .ok else { throw OCSPFetchError(description: "the responder answered HTTP \(response.status.code)") }
        var body = try await response.body.collect(upTo: Self.maxResponseBytes)
        return body.readBytes(length: body.readableBytes) ?? []
    }
}

struct OCSPFetchError: Error, CustomStringConvertible {
    let description: String
}
