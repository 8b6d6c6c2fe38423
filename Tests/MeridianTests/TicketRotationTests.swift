import Foundation
import Logging
import MeridianCore
import NIOConcurrencyHelpers
import Testing

/// Generated session-ticket keys: the rotation rule (pure), and instances sharing one `redis-server` resuming each
/// other's sessions across rotations, while Redis is gone, and after it is back — with `openssl s_client` as the
/// client. Rotations are driven by calling the rotators' steps with chosen times, never by waiting.
@Suite struct TicketRotationTests {
    static let hour: Int64 = 3_600_000

    static func key(_ n: UInt8) -> [UInt8] { [UInt8](repeating: n, count: TicketKeySchedule.keyLength) }

    @Test func theScheduleRotatesOncePerIntervalAndKeepsTheNextKeyAhead() {
        var n: UInt8 = 0
        func fresh() -> [UInt8] { n += 1; return Self.key(n) }
        var s = TicketKeySchedule.start(now: 0, fresh: fresh)
        #expect(s.keys == [Self.key(1), Self.key(2)] && s.rotatedAt == 0)  // 1 is next, 2 encrypts
        #expect(s.advanced(now: Self.hour - 1, interval: Self.hour, keep: 2, fresh: fresh) == s)
        s = s.advanced(now: Self.hour, interval: Self.hour, keep: 2, fresh: fresh)
        #expect(s.keys == [Self.key(3), Self.key(1), Self.key(2)] && s.rotatedAt == Self.hour)  // the old next key encrypts now
        s = s.advanced(now: 2 * Self.hour + 5, interval: Self.hour, keep: 2, fresh: fresh)
        s = s.advanced(now: 3 * Self.hour + 5, interval: Self.hour, keep: 2, fresh: fresh)
        #expect(s.keys == [Self.key(5), Self.key(4), Self.key(3), Self.key(1)], "next + current + 2 kept")
        // A clock behind the last rotation (another instance's clock ran ahead) rotates nothing.
        #expect(s.advanced(now: Self.hour, interval: Self.hour, keep: 2, fresh: fresh) == s)
        // A damaged schedule starts over.
        #expect(TicketKeySchedule(keys: [Self.key(9)], rotatedAt: 0).advanced(now: 7, interval: Self.hour, keep: 2, fresh: fresh).keys.count == 2)
    }

    static func yaml(_ certs: TestCertificates, redis: Int?, tickets: String = "") -> String {
        """
        \(redis.map { "redis: {url: \"redis://127.0.0.1:\($0)\", key_prefix: \"t\(UUID().uuidString.prefix(8))\", timeouts: {command: 500ms}}" } ?? "")
        listeners:
          - name: https
            address: 127.0.0.1:0
            tls:
              certificates: [{cert: \(certs.cert("a")), key: \(certs.key("a"))}]
              \(tickets)
        """
    }

    static func certificates() async throws -> TestCertificates {
        let certs = try await TestCertificates()
        try await certs.issue("a", dnsNames: ["a.test"], serial: 10)
        return certs
    }

    /// Resumes on `to` a TLS 1.3 (or 1.2) session made on `from`: `Reused, …` or `New, …`.
    static func resume(_ from: TestServer, _ to: TestServer, _ certs: TestCertificates, tls12: Bool = false) async throws -> String {
        try await TLSSessionTests.resumption(from, to, certs: certs, tls12: tls12)
    }

    static func rotator(_ s: TestServer) throws -> TicketKeyRotator {
        guard let r = s.app.ticketRotators.first else { throw TestError("no ticket-key rotator") }
        return r
    }

    @Test func instancesSharingRedisResumeEachOthersSessionsAcrossRotations() async throws {
        let certs = try await Self.certificates()
        defer { certs.remove() }
        let redis = try await RedisServer()
        try await withTestServers(2, Self.yaml(certs, redis: redis.port, tickets: "session_tickets: {rotate: 1h, keep: 1}")) { s in
            let (a, b) = (try Self.rotator(s[0]), try Self.rotator(s[1]))
            #expect(a.store.ticketKeyNames.names.prefix(2) == b.store.ticketKeyNames.names.prefix(2), "both joined one schedule at start")
            #expect(a.store.ticketKeyNames.names.count == 3, "and each keeps its startup key for what it issued before joining")
            #expect(try await Self.resume(s[0], s[1], certs).hasPrefix("Reused, TLSv1.3"))
            #expect(try await Self.resume(s[1], s[0], certs, tls12: true).hasPrefix("Reused, TLSv1.2"))

            // A session made before the rotation, kept by the client.
            let old = certs.directory.appendingPathComponent("old.pem").path
            _ = try await TLSSessionTests.sClient(port: s[0].port, certs: certs, ["-tls1_3", "-sess_out", old])

            // A rotates; B has not stepped yet. Tickets A issues now are under the key B already holds as "next".
            let start = WallClock.milliseconds()
            await a.step(now: start + Self.hour + 1000)
            #expect(a.store.ticketKeyNames.names.count == 3)
            #expect(a.store.ticketKeyNames.names[1] == b.store.ticketKeyNames.names[0], "A encrypts with B's next key")
            #expect(try await Self.resume(s[0], s[1], certs).hasPrefix("Reused"), "a ticket from the new key resumes on B before B stepped")
            await b.step(now: start + Self.hour + 2000)
            #expect(a.store.ticketKeyNames.names == b.store.ticketKeyNames.names, "B adopted A's rotation instead of making its own")
            let reused = try await TLSSessionTests.sClient(port: s[1].port, certs: certs, ["-tls1_3", "-sess_in", old])
            #expect(reused.contains("\nReused, TLSv1.3"), "the pre-rotation session resumes on B: \(reused)")

            // Two more rotations with keep: 1 drop the pre-rotation key everywhere.
            await a.step(now: start + 2 * Self.hour + 3000)
            await a.step(now: start + 3 * Self.hour + 4000)
            await b.step(now: start + 3 * Self.hour + 5000)
            #expect(a.store.ticketKeyNames.names.count == 3 && a.store.ticketKeyNames.names == Array(b.store.ticketKeyNames.names.prefix(3)))
            // (B, which missed a rotation, also keeps the keys it had been encrypting with, for itself: see TicketKeyRotator.)
            let expired = try await TLSSessionTests.sClient(port: s[0].port, certs: certs, ["-tls1_3", "-sess_in", old])
            #expect(expired.contains("\nNew, TLSv1.3"), "a key older than keep rotations is gone: \(expired)")
        }
    }

    @Test func losingRedisRotatesAloneAndRejoiningKeepsTheSessionsMadeAlone() async throws {
        let certs = try await Self.certificates()
        defer { certs.remove() }
        let redis = try await RedisServer()
        try await withTestServers(2, Self.yaml(certs, redis: redis.port, tickets: "session_tickets: {rotate: 1h, keep: 2}")) { s in
            let (a, b) = (try Self.rotator(s[0]), try Self.rotator(s[1]))
            redis.stop()
            let start = WallClock.milliseconds()
            await a.step(now: start + Self.hour + 1000)  // Redis is gone: A rotates alone
            #expect(a.store.ticketKeyNames.names != b.store.ticketKeyNames.names)
            let alone = certs.directory.appendingPathComponent("alone.pem").path
            _ = try await TLSSessionTests.sClient(port: s[0].port, certs: certs, ["-tls1_3", "-sess_out", alone])
            let within = try await TLSSessionTests.sClient(port: s[0].port, certs: certs, ["-tls1_3", "-sess_in", alone])
            #expect(within.contains("\nReused"), "resumption on one instance goes on without Redis: \(within)")

            try await redis.start()  // an empty Redis: the first step starts a new cluster schedule
            try await waitUntil(timeout: .seconds(15)) {
                await b.step(now: start + Self.hour + 2000)
                await a.step(now: start + Self.hour + 3000)
                return a.store.ticketKeyNames.names.prefix(2) == b.store.ticketKeyNames.names.prefix(2)
            }
            #expect(a.store.ticketKeyNames.names.count > 2, "A keeps the keys it issued with alone, after the cluster's")
            let back = try await TLSSessionTests.sClient(port: s[0].port, certs: certs, ["-tls1_3", "-sess_in", alone])
            #expect(back.contains("\nReused"), "a session made while alone still resumes where it was made: \(back)")
            #expect(try await Self.resume(s[1], s[0], certs).hasPrefix("Reused"), "and the cluster shares keys again")
            #expect(try await Self.resume(s[0], s[1], certs).hasPrefix("Reused"))
        }
    }

    @Test func withoutRedisEachInstanceRotatesItsOwnAndTicketsCanBeTurnedOff() async throws {
        let certs = try await Self.certificates()
        defer { certs.remove() }
        try await withTestServers(2, Self.yaml(certs, redis: nil, tickets: "session_tickets: {rotate: 1h, keep: 1}")) { s in
            let a = try Self.rotator(s[0])
            #expect(try await Self.resume(s[0], s[1], certs).hasPrefix("New"), "separate keys per instance")
            let before = certs.directory.appendingPathComponent("before.pem").path
            _ = try await TLSSessionTests.sClient(port: s[0].port, certs: certs, ["-tls1_3", "-sess_out", before])
            await a.step(now: WallClock.milliseconds() + Self.hour + 1000)
            #expect(a.store.ticketKeyNames.names.count == 3)
            let after = try await TLSSessionTests.sClient(port: s[0].port, certs: certs, ["-tls1_3", "-sess_in", before])
            #expect(after.contains("\nReused"), "the previous key still decrypts after a rotation: \(after)")
            // The certificate reload check (every reload_interval, SIGHUP) leaves generated keys alone.
            let names = a.store.ticketKeyNames.names
            a.store.reloadIfChanged(logger: Logger(label: "test"))
            #expect(a.store.ticketKeyNames.names == names)
        }
        try await withTestServer(Self.yaml(certs, redis: nil, tickets: "session_tickets: {enabled: false}")) { s in
            #expect(s.app.ticketRotators.isEmpty)
            for version in ["-tls1_3", "-tls1_2"] {
                let out = try await TLSSessionTests.sClient(port: s.port, certs: certs, [version])
                #expect(out.contains("\nNew, TLSv1.") && !out.contains("TLS session ticket"), "no ticket is sent: \(out)")
            }
        }
    }

    /// A shared store that answers what a test sets: nothing it says may crash the rotator or shrink the key set.
    final class ScriptedSharing: TicketKeySharing {
        let answer = NIOLockedValueBox<Result<TicketKeySchedule, TestError>>(.failure(TestError("down")))
        func exchange(listener: String, now: Int64, rotation: Duration, keep: Int, candidates: [[UInt8]]) async throws -> TicketKeySchedule {
            try answer.withLockedValue { $0 }.get()
        }
    }

    @Test func theRotatorSurvivesBadAnswersAndBoundsTheKeysItKeeps() async throws {
        let certs = try await Self.certificates()
        defer { certs.remove() }
        var settings = TLSSettings(certificates: [.init(cert: certs.cert("a"), key: certs.key("a"))])
        settings.sessionTicketRotation = .seconds(3600)
        settings.sessionTicketsKeep = 1
        let store = try TLSCertificateStore(settings, listener: "x")
        let sharing = ScriptedSharing()
        let rotator = try #require(TicketKeyRotator(store: store, sharing: sharing, logger: Logger(label: "test")))
        let start = store.ticketKeyNames.names
        // Unreachable, then answers that are not a schedule: the keys in use stay.
        await rotator.step(now: 1)
        sharing.answer.withLockedValue { $0 = .success(TicketKeySchedule(keys: [Self.key(1)], rotatedAt: 1)) }
        await rotator.step(now: 2)
        sharing.answer.withLockedValue { $0 = .success(TicketKeySchedule(keys: [[1, 2, 3], Self.key(2)], rotatedAt: 1)) }
        await rotator.step(now: 3)
        #expect(store.ticketKeyNames.names == start)
        // A Redis that loses its data again and again (a new schedule each time): what this instance encrypted with is
        // kept, but never more than 2 × (2 + keep) keys beyond the schedule.
        for i in 0..<20 {
            let n = UInt8(10 + 2 * i)
            sharing.answer.withLockedValue { $0 = .success(TicketKeySchedule(keys: [Self.key(n), Self.key(n + 1)], rotatedAt: Int64(10 + i))) }
            await rotator.step(now: Int64(10 + i))
        }
        let names = store.ticketKeyNames
        #expect(names.encrypting == 1 && names.names.count == 2 + 2 * (2 + 1), "\(names.names.count)")
        #expect(names.names[0] == Array(Self.key(48).prefix(16)) && names.names[1] == Array(Self.key(49).prefix(16)))
        // An answer older than the schedule in use (an overlapping step) is ignored.
        sharing.answer.withLockedValue { $0 = .success(TicketKeySchedule(keys: [Self.key(46), Self.key(49)], rotatedAt: 5)) }
        await rotator.step(now: 40)
        #expect(store.ticketKeyNames.names[0] == Array(Self.key(48).prefix(16)))
    }

    @Test func ticketSettingsAreCheckedAtLoad() {
        let bad = configErrors(
            """
            listeners:
              - address: 127.0.0.1:0
                tls:
                  certificates: [{cert: /dev/null, key: /dev/null}]
                  session_tickets: {rotate: 10s, keep: 0, shared: maybe, share: yes}
              - address: 127.0.0.1:0
                tls:
                  certificates: [{cert: /dev/null, key: /dev/null}]
                  session_ticket_keys: [/dev/null]
                  session_tickets: {enabled: false}
            """
        )
        #expect(bad.contains { $0.contains("session_tickets.rotate") }, "\(bad)")
        #expect(bad.contains { $0.contains("session_tickets.keep") }, "\(bad)")
        #expect(bad.contains { $0.contains("session_tickets.shared") }, "\(bad)")
        #expect(bad.contains { $0.contains("share") && $0.contains("unknown key") }, "\(bad)")
        #expect(bad.contains { $0.contains("session_tickets.enabled: is false but session_ticket_keys names key files") }, "\(bad)")
    }
}
