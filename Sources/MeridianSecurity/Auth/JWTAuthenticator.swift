internal import Foundation
public import Logging
public import MeridianConfig
public import MeridianCore
internal import NIOConcurrencyHelpers
internal import NIOHTTP1

/// `jwt`: bearer JSON Web Tokens (RFC 7519) checked on the event loop, synchronously — a verify costs 9 µs
/// (HS256) to 80 µs (ES256), less than a hop to another executor would.
///
/// Keys come from the configuration (PEM files, HMAC secrets) and from a JWKS URL (``JWKSSource``), whose
/// keys replace the previous set on every fetch. A token with a `kid` no key has asks for an early fetch
/// (at most one per `jwks_min_refresh`): that is how a key rotated in at the identity provider is picked up
/// before the next scheduled refresh. Refusals follow RFC 6750 §3: `WWW-Authenticate: Bearer realm=…` alone
/// without credentials, with `error="invalid_token"` and a description for a bad token, 400
/// `invalid_request` for a malformed header.
public final class JWTAuthenticator: RequestAuthenticator {
    let realm: String
    let configuration: JWTVerifier.Configuration
    let staticKeys: [JWTVerifier.Key]
    let verifier: NIOLockedValueBox<JWTVerifier>
    let jwks: JWKSSource?
    let forwardHeaders: [String]

    public init(_ config: Configuration.JWT, name: String, logger: Logger, environment: [String: String]) throws {
        self.realm = config.realm
        self.configuration = JWTVerifier.Configuration(
            issuers: config.issuers, audiences: config.audiences, leewaySeconds: Double(config.leeway.components.seconds),
            requireExpiration: config.requireExpiration, requiredClaims: config.requiredClaims,
            forwardedClaims: config.forwardClaims.map { .init(claim: $0.claim, header: $0.header) }
        )
        self.forwardHeaders = config.forwardClaims.map(\.header)
        var keys: [JWTVerifier.Key] = []
        for key in config.keys { keys.append(try Self.load(key, environment: environment)) }
        self.staticKeys = keys
        let verifier = NIOLockedValueBox(JWTVerifier(keys: keys, configuration: configuration))
        self.verifier = verifier
        if let url = config.jwksURL {
            let (staticKeys, configuration) = (keys, self.configuration)
            self.jwks = JWKSSource(
                url: url, refresh: config.jwksRefresh, minimumInterval: config.jwksMinRefresh, logger: logger
            ) { fetched in
                verifier.withLockedValue { $0 = JWTVerifier(keys: staticKeys + fetched, configuration: configuration) }
            }
        } else {
            self.jwks = nil
        }
    }

    public var upstreamHeaders: [String] { forwardHeaders }
    public var deniedResults: [String] {
        ["missing", "malformed", "expired", "not_yet_valid", "bad_signature", "unknown_kid", "alg_mismatch", "alg_none", "bad_audience",
         "bad_issuer", "missing_claim"]
    }

    public func authenticate(_ request: Request, context: RequestContext) -> AuthCheck {
        let token: Substring
        switch BearerToken.extract(authorization: request.fields.first(name: "authorization")) {
        case .noCredentials:
            return .now(.denied(refusal(nil), result: "missing"))
        case .malformed(let rejection):
            return .now(.denied(refusal(rejection), result: "malformed"))
        case .token(let t):
            token = t
        }
        let verifier = self.verifier.withLockedValue { $0 }
        do {
            let verified = try verifier.verify(token, now: Date().timeIntervalSince1970)
            return .now(.allowed(identity: verified.subject ?? "jwt", headers: verified.forwardedClaims.map { ($0.header, $0.value) }))
        } catch {
            if error == .unknownKeyID { jwks?.refreshSoon() }
            return .now(.denied(refusal(error), result: error.label))
        }
    }

    private func refusal(_ rejection: JWTRejection?) -> Response {
        let challenge = BearerChallenge(realm: realm, rejection: rejection)
        var r = Response.unauthorized(challenge: challenge.headerValue)
        if challenge.httpStatusCode == 400 {
            r.status = .badRequest
            r.body = .buffer(.init(string: "bad request\n"))
        }
        return r
    }

    static func load(_ key: Configuration.JWT.Key, environment: [String: String]) throws -> JWTVerifier.Key {
        guard let algorithm = JWSAlgorithm(name: key.algorithm) else { throw JWTKeyLoadError(description: "unknown algorithm \(key.algorithm)") }
        switch key.material {
        case .file(let path):
            let pem = try String(contentsOfFile: path, encoding: .utf8)
            return try JWTVerifier.Key.publicKey(pem: pem, algorithm: algorithm, id: key.kid)
        case .secretEnvironment(let name):
            guard let secret = environment[name], !secret.isEmpty else {
                throw JWTKeyLoadError(description: "the environment variable \(name) (an HMAC secret for \(key.algorithm)) is not set")
            }
            return try JWTVerifier.Key.hmac(secret: Array(secret.utf8), algorithm: algorithm, id: key.kid)
        case .secretFile(let path):
            var secret = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            while secret.last == 0x0A || secret.last == 0x0D { secret.removeLast() }
            return try JWTVerifier.Key.hmac(secret: secret, algorithm: algorithm, id: key.kid)
        }
    }
}

struct JWTKeyLoadError: Error, CustomStringConvertible {
    var description: String
}
