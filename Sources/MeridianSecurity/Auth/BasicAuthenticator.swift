internal import Atomics
public import MeridianConfig
public import MeridianCore
internal import NIOCore
internal import NIOHTTP1
public import NIOPosix

/// `basic`: HTTP Basic authentication (RFC 7617) against bcrypt or argon2 hashes.
///
/// A hash check costs tens of milliseconds of CPU by design, so it never runs on an event loop: it goes to
/// ``PasswordHashing/pool`` and the answer comes back on the request's loop. A success is remembered for
/// `cache_ttl` (Caddy does the same), so a client sending the same credentials on every request pays once. An
/// unknown user is checked against a stand-in hash of the same cost, so the answer's timing does not tell which
/// users exist. When more checks wait than the pool can work off in about a second, further ones are answered
/// 503 at once rather than queued without bound.
public final class BasicAuthenticator: RequestAuthenticator {
    let users: [String: PasswordHash]
    let standIn: PasswordHash
    let cache: CredentialCache?
    let challenge: String
    let userHeader: String?

    public init(_ config: Configuration.Basic) throws {
        var users: [String: PasswordHash] = [:]
        for user in config.users { users[user.name] = try PasswordHash(parsing: user.hash) }
        guard let first = config.users.first, let standIn = users[first.name] else { throw NoUsers() }
        self.users = users
        // Users' hashes usually share one cost; the first one's stands in for unknown users.
        self.standIn = standIn
        self.cache = config.cacheTTL > .zero ? CredentialCache(capacity: 4096, timeToLive: config.cacheTTL) : nil
        self.challenge = "Basic realm=\"\(config.realm)\", charset=\"UTF-8\""
        self.userHeader = config.userHeader
    }

    public var upstreamHeaders: [String] { userHeader.map { [$0] } ?? [] }

    public func claimedUser(_ request: Request) -> String? {
        (try? BasicCredentials.parse(authorization: request.fields.first(name: "authorization")))??.userID
    }
    public var deniedResults: [String] { ["missing", "malformed", "invalid", "overloaded"] }

    public func authenticate(_ request: Request, context: RequestContext) -> AuthCheck {
        let credentials: BasicCredentials
        do {
            guard let c = try BasicCredentials.parse(authorization: request.fields.first(name: "authorization")) else {
                return .now(.denied(.unauthorized(challenge: challenge), result: "missing"))
            }
            credentials = c
        } catch {
            return .now(.denied(.unauthorized(challenge: challenge), result: "malformed"))
        }
        let password = Array(credentials.password.utf8)
        let user = credentials.userID
        let hash = users[user]
        let now = ContinuousClock.now
        if let hash, let cache, cache.containsSuccess(user: user, password: password, storedHash: hash.encoded, now: now) {
            return .now(allowed(user))
        }
        guard let ticket = PasswordHashing.admit() else {
            var busy = Response.text(.serviceUnavailable, "too many logins at once; try again\n")
            busy.headers.add(name: "retry-after", value: "1")
            return .now(.denied(busy, result: "overloaded"))
        }
        let (standIn, cache, challenge) = (self.standIn, self.cache, self.challenge)
        let verified = PasswordHashing.pool.runIfActive(eventLoop: context.eventLoop) { () -> Bool in
            guard let hash else {
                _ = standIn.verify(password)
                return false
            }
            guard hash.verify(password) else { return false }
            cache?.recordSuccess(user: user, password: password, storedHash: hash.encoded, now: ContinuousClock.now)
            return true
        }
        verified.whenComplete { _ in ticket.release() }
        return .later(
            verified.map { ok in ok ? self.allowed(user) : .denied(.unauthorized(challenge: challenge), result: "invalid") }
        )
    }

    private func allowed(_ user: String) -> AuthOutcome {
        .allowed(identity: user, headers: userHeader.map { [($0, user)] } ?? [])
    }
}

/// The threads password hashes are checked on, shared by every basic authenticator of the process.
public enum PasswordHashing {
    /// Half the cores: hashing logins must leave the event loops (and the file-reading pool) room to serve.
    public static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: max(1, System.coreCount / 2))
        pool.start()
        return pool
    }()

    /// Checks waiting or running; beyond `maximumQueued` new ones are refused.
    static let queued = ManagedAtomic<Int>(0)
    static let maximumQueued = 32

    struct Ticket {
        func release() { PasswordHashing.queued.wrappingDecrement(ordering: .relaxed) }
    }

    static func admit() -> Ticket? {
        if queued.wrappingIncrementThenLoad(ordering: .relaxed) > maximumQueued {
            queued.wrappingDecrement(ordering: .relaxed)
            return nil
        }
        return Ticket()
    }
}

struct NoUsers: Error, CustomStringConvertible {
    var description: String { "basic auth lists no users" }
}
