public import Atomics
internal import Foundation
public import Logging
internal import NIOConcurrencyHelpers
internal import NIOCore
public import NIOSSL

/// The certificates of one TLS listener, chosen per handshake by SNI name, and reloaded from their
/// files when they change: new handshakes use the new certificate, open connections keep theirs.
///
/// One `NIOSSLContext` serves the listener; its SNI callback reads the current set under a lock
/// (once per handshake), so a reload never rebuilds the context or touches open connections.
public final class TLSCertificateStore: Sendable {
    public struct LoadError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    struct Entry: Sendable {
        var source: TLSSettings.Certificate
        var names: [String]
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
        /// The DER OCSP response stapled for this certificate.
        var ocsp: [UInt8]?
        var stamp: FileStamp
    }

    /// What a file looked like when it was read: a change of either means read it again.
    struct FileStamp: Equatable, Sendable {
        var files: [(modified: timespec, size: Int)]

        static func == (a: FileStamp, b: FileStamp) -> Bool {
            a.files.count == b.files.count
                && zip(a.files, b.files).allSatisfy {
                    $0.modified.tv_sec == $1.modified.tv_sec && $0.modified.tv_nsec == $1.modified.tv_nsec && $0.size == $1.size
                }
        }
    }

    private let entries: NIOLockedValueBox<[Entry]>
    private let reloadLock = NIOLock()
    /// The OCSP responses by leaf certificate, read by the handshake (installed when any certificate has one).
    let stapler = OCSPStapler()
    /// The session-ticket keys: from `sessionTicketKeys` files (their stamp for reloads), or generated and rotated
    /// (`initialTicketSchedule`, then `useTicketKeys`); nil when tickets are off.
    let ticketKeys: TicketKeyRing?
    /// The generated keys this store started with, for its `TicketKeyRotator`; nil with key files or no tickets.
    public let initialTicketSchedule: TicketKeySchedule?
    private let ticketStamp: NIOLockedValueBox<FileStamp?>
    public let configuration: TLSSettings
    public let listener: String
    public let reloads = ManagedAtomic<Int>(0)
    public let reloadFailures = ManagedAtomic<Int>(0)
    public let handshakeRejections = ManagedAtomic<Int>(0)
    public let handshakeFailures = ManagedAtomic<Int>(0)
    /// OCSP responses fetched from responders, and fetches that failed (`OCSPStapling` counts them here).
    public let ocspFetches = ManagedAtomic<Int>(0)
    public let ocspFetchFailures = ManagedAtomic<Int>(0)
    public let ocspRevoked = ManagedAtomic<Int>(0)
    private let ocspExpiry = NIOLockedValueBox<[[UInt8]: (name: String, index: Int, validUntil: Double?)]>([:])

    public init(_ configuration: TLSSettings, listener: String) throws {
        self.configuration = configuration
        self.listener = listener
        var loaded: [Entry] = []
        for (i, certificate) in configuration.certificates.enumerated() {
            do {
                loaded.append(try Self.load(certificate))
            } catch {
                throw LoadError(description: "listeners.\(listener).tls.certificates[\(i)]: \(error)")
            }
        }
        self.entries = NIOLockedValueBox(loaded)
        for entry in loaded { try stapler.setResponse(entry.ocsp, for: entry.chain[0]) }
        if configuration.sessionTicketKeys.isEmpty {
            self.ticketStamp = NIOLockedValueBox(nil)
            if configuration.sessionTicketRotation != nil {
                let schedule = TicketKeySchedule.start(now: WallClock.milliseconds(), fresh: TicketKey.randomBytes)
                self.initialTicketSchedule = schedule
                self.ticketKeys = TicketKeyRing(try schedule.keys.map(TicketKey.init(nginxFormat:)), encrypting: TicketKeySchedule.encryptingIndex)
            } else {
                self.initialTicketSchedule = nil
                self.ticketKeys = nil
            }
        } else {
            self.initialTicketSchedule = nil
            do {
                let stamp = try Self.stamp(configuration.sessionTicketKeys)
                self.ticketKeys = TicketKeyRing(try configuration.sessionTicketKeys.map { try TicketKey(file: $0) })
                self.ticketStamp = NIOLockedValueBox(stamp)
            } catch {
                throw LoadError(description: "listeners.\(listener).tls.session_ticket_keys: \(error)")
            }
        }
    }

    static func stamp(_ paths: [String]) throws -> FileStamp {
        var files: [(modified: timespec, size: Int)] = []
        for path in paths {
            var st = stat()
            guard stat(path, &st) == 0 else { throw LoadError(description: "cannot stat \(path): \(String(cString: strerror(errno)))") }
            files.append((st.st_mtim, Int(st.st_size)))
        }
        return FileStamp(files: files)
    }

    static func stamp(_ certificate: TLSSettings.Certificate) throws -> FileStamp {
        try stamp([certificate.cert, certificate.key] + (certificate.ocsp.map { [$0] } ?? []))
    }

    static func load(_ certificate: TLSSettings.Certificate) throws -> Entry {
        let stamp = try stamp(certificate)
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate.cert)
        } catch {
            throw LoadError(description: "\(certificate.cert) is not a PEM certificate chain (\(error))")
        }
        guard let leaf = chain.first else { throw LoadError(description: "\(certificate.cert) holds no certificate") }
        do {
            key = try NIOSSLPrivateKey(file: certificate.key, format: .pem)
        } catch {
            throw LoadError(description: "\(certificate.key) is not a PEM private key (\(error))")
        }
        do {
            // Building a context checks that the key belongs to the certificate.
            _ = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
        } catch {
            throw LoadError(description: "\(certificate.key) does not match the certificate in \(certificate.cert) (\(error))")
        }
        var ocsp: [UInt8]?
        if let path = certificate.ocsp {
            guard let data = FileManager.default.contents(atPath: path), data.first == 0x30 else {
                throw LoadError(description: "\(path) is not a DER OCSP response (openssl ocsp ... -respout FILE makes one)")
            }
            ocsp = [UInt8](data)
        }
        var names = certificate.names
        if names.isEmpty {
            for san in leaf._subjectAlternativeNames() where san.nameType == .dnsName {
                names.append(String(decoding: Array(san.contents), as: UTF8.self).lowercased())
            }
        }
        return Entry(source: certificate, names: names, chain: chain, key: key, ocsp: ocsp, stamp: stamp)
    }

    /// The certificate for an SNI name: exact, then the longest wildcard, then the default (first)
    /// unless the policy rejects unknown names. nil means reject.
    func select(serverName: String?) -> Entry? {
        let entries = self.entries.withLockedValue { $0 }
        guard let name = serverName.map({ $0.lowercased() }), !name.isEmpty else {
            return configuration.rejectUnknownServerName && entries.count > 1 ? nil : entries.first
        }
        if let exact = entries.first(where: { $0.names.contains(name) }) { return exact }
        // A certificate wildcard covers exactly one label (RFC 6125 §6.4.3): a.b.example.com is
        // not under *.example.com, and a client would reject that certificate anyway.
        if let dot = name.firstIndex(of: ".") {
            let wildcard = "*" + name[dot...]
            if let match = entries.first(where: { $0.names.contains(wildcard) }) { return match }
        }
        return configuration.rejectUnknownServerName ? nil : entries.first
    }

    /// Re-reads every certificate whose files changed. A file that fails to load keeps the old
    /// certificate, is logged and counted, and is tried again at the next check. Blocking: call it
    /// off the event loops.
    public func reloadIfChanged(logger: Logger) {
        // The periodic check and SIGHUP may run at once; one at a time, so neither writes back an
        // older list over the other's.
        reloadLock.lock()
        defer { reloadLock.unlock() }
        let current = entries.withLockedValue { $0 }
        var next = current
        var changed = false
        for (i, entry) in current.enumerated() {
            guard let stamp = try? Self.stamp(entry.source), stamp != entry.stamp else { continue }
            do {
                next[i] = try Self.load(entry.source)
                try stapler.setResponse(next[i].ocsp, for: next[i].chain[0])
                changed = true
                reloads.wrappingIncrement(ordering: .relaxed)
                logger.notice(
                    "TLS certificate reloaded",
                    metadata: ["listener": "\(listener)", "cert": "\(entry.source.cert)", "names": "\(next[i].names.joined(separator: ","))"]
                )
            } catch {
                reloadFailures.wrappingIncrement(ordering: .relaxed)
                next[i].stamp = stamp  // do not retry the same broken file on every tick
                changed = true
                logger.error(
                    "TLS certificate reload failed; keeping the previous certificate",
                    metadata: ["listener": "\(listener)", "cert": "\(entry.source.cert)", "error": "\(error)"]
                )
            }
        }
        if changed { entries.withLockedValue { $0 = next } }
        reloadTicketKeysIfChanged(logger: logger)
    }

    /// The generated keys to use from now on, newest first (`TicketKeySchedule.keys`, possibly followed by keys kept
    /// only for decryption): `keys[1]` encrypts. Takes effect for the next handshake.
    public func useTicketKeys(_ keys: [[UInt8]]) throws {
        guard let ticketKeys, initialTicketSchedule != nil else { return }
        ticketKeys.setKeys(try keys.map(TicketKey.init(nginxFormat:)), encrypting: TicketKeySchedule.encryptingIndex)
    }

    /// The 16-byte names of the keys in use and the index of the encrypting one (tests, diagnostics).
    public var ticketKeyNames: (names: [[UInt8]], encrypting: Int) {
        let keys = ticketKeys?.current
        return (keys?.keys.map(\.name) ?? [], keys?.encrypting ?? 0)
    }

    /// New ticket key files (a rotation: a new first key, the old one kept after it) take effect for new
    /// handshakes; a file that does not load keeps the keys in use.
    private func reloadTicketKeysIfChanged(logger: Logger) {
        // Generated keys are the rotator's; only key files are re-read.
        guard !configuration.sessionTicketKeys.isEmpty, let ring = ticketKeys, let stamp = try? Self.stamp(configuration.sessionTicketKeys),
            stamp != ticketStamp.withLockedValue({ $0 })
        else { return }
        ticketStamp.withLockedValue { $0 = stamp }
        do {
            ring.setKeys(try configuration.sessionTicketKeys.map { try TicketKey(file: $0) })
            reloads.wrappingIncrement(ordering: .relaxed)
            logger.notice("TLS session ticket keys reloaded", metadata: ["listener": "\(listener)"])
        } catch {
            reloadFailures.wrappingIncrement(ordering: .relaxed)
            logger.error("TLS session ticket keys reload failed; keeping the previous keys", metadata: ["listener": "\(listener)", "error": "\(error)"])
        }
    }

    /// A certificate whose OCSP response is fetched from its responder: the DER of its chain (leaf first).
    public struct OCSPSubject: Sendable, Equatable {
        public var chain: [[UInt8]]
        public var names: [String]
        /// Its place in the listener's `certificates` (a label: two certificates may share a name, RSA and ECDSA).
        public var index: Int
    }

    /// The certificates in use whose OCSP responses are fetched (no `ocsp` file; `fetchOCSP` on). A reload that
    /// replaces a certificate replaces its subject here.
    public var ocspSubjects: [OCSPSubject] {
        guard configuration.fetchOCSP else { return [] }
        return entries.withLockedValue { $0 }.enumerated().compactMap { index, entry in
            guard entry.source.ocsp == nil, entry.chain.count >= 1, let chain = try? entry.chain.map({ try $0.toDERBytes() }) else { return nil }
            return OCSPSubject(chain: chain, names: entry.names, index: index)
        }
    }

    /// Staples `response` (DER) for the certificate whose leaf is `leaf` (DER) in new handshakes; nil staples nothing.
    /// `validUntil` (the response's nextUpdate, seconds since the epoch) is for the metrics.
    public func staple(_ response: [UInt8]?, forLeaf leaf: [UInt8], validUntil: Double?, subject: OCSPSubject) {
        // Replaced certificates' staples go: a renewal a month would otherwise leave one behind each time.
        let leaves = Set(entries.withLockedValue { $0 }.compactMap { try? $0.chain.first?.toDERBytes() })
        stapler.retain(leaves)
        stapler.setResponse(response, forLeafDER: leaf)
        ocspExpiry.withLockedValue { e in
            e = e.filter { leaves.contains($0.key) }
            e[leaf] = (subject.names.first ?? "", subject.index, response == nil ? nil : validUntil ?? .infinity)
        }
    }

    /// Per certificate whose OCSP response is fetched: its first name, its index, and when its staple expires (its
    /// nextUpdate; nil: nothing stapled). For the metrics; only the certificates in use.
    public var ocspStaples: [(name: String, index: Int, validUntil: Double?)] {
        let leaves = Set(entries.withLockedValue { $0 }.compactMap { try? $0.chain.first?.toDERBytes() })
        return ocspExpiry.withLockedValue { $0 }.filter { leaves.contains($0.key) }.map(\.value).sorted { $0.index < $1.index }
    }

    /// The response stapled for a leaf (DER), if any.
    public func stapled(forLeaf leaf: [UInt8]) -> [UInt8]? {
        stapler.response(forLeafDER: leaf)
    }

    /// A server context offering `alpn`, the listener's versions and cipher list (a Mozilla profile's unless
    /// given), SNI selection, mTLS.
    public func makeContext(alpn: [String]) throws -> NIOSSLContext {
        let first = entries.withLockedValue { $0[0] }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: first.chain.map { .certificate($0) }, privateKey: .privateKey(first.key)
        )
        tls.minimumTLSVersion = configuration.minimumVersion.nioVersion
        tls.applicationProtocols = alpn
        // Always set: swift-nio-ssl's own default list still has RSA key exchange and CBC with SHA-1
        // (AES128-SHA, AES256-SHA, AES128-GCM-SHA256), which Mozilla's intermediate profile excludes.
        tls.cipherSuites = configuration.ciphers
        if let auth = configuration.clientAuth {
            tls.trustRoots = .file(auth.ca)
            tls.certificateVerification = auth.required ? .noHostnameVerification : .optionalVerification
            tls.sendCANameList = true
        }
        tls.sslContextCallback = { [self] values, promise in
            guard let entry = self.select(serverName: values.serverHostname) else {
                self.handshakeRejections.wrappingIncrement(ordering: .relaxed)
                promise.fail(LoadError(description: "no certificate for server name \(values.serverHostname ?? "(none)")"))
                return
            }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = entry.chain.map { .certificate($0) }
            override.privateKey = .privateKey(entry.key)
            promise.succeed(override)
        }
        let context = try NIOSSLContext(configuration: tls)
        // What swift-nio-ssl has no API for goes onto its BoringSSL context directly (NIOSSLContext+BoringSSL.swift):
        // sessions partitioned by SNI name, the shared ticket keys, per-certificate OCSP stapling.
        try context.installSessionPartitionBySNI()
        if let ticketKeys {
            // Generated keys: a ticket stays decryptable for at least `keep` rotations after it was issued.
            let lifetime = initialTicketSchedule != nil ? configuration.sessionTicketRotation.map { $0 * configuration.sessionTicketsKeep } : nil
            try context.installTicketKeyRing(ticketKeys, lifetime: lifetime)
        } else {
            try context.disableSessionTickets()
        }
        if configuration.fetchOCSP || configuration.certificates.contains(where: { $0.ocsp != nil }) { try context.installOCSPStapler(stapler) }
        return context
    }
}
