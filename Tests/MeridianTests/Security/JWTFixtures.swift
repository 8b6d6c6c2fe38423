internal import Foundation
internal import Testing

@testable internal import MeridianSecurity
import MeridianConfig

/// The PyJWT-minted keys and tokens in `Tests/fixtures/security/jwt-fixtures.json` (see `generate_jwt_fixtures.py` beside it).
///
/// Read from the source tree by path rather than as a bundle resource, so no Python and no
/// resource bundle are needed at test time.
struct Fixtures: Sendable {
    static let shared = Fixtures.load()

    let now: Double
    let issuer: String
    let audience: String
    let hmacSecret: [UInt8]
    let keys: [String: String]
    let jwks: [UInt8]
    let tokens: [String: String]

    func token(_ name: String) -> String {
        guard let token = tokens[name] else { fatalError("no fixture token '\(name)'") }
        return token
    }

    func pem(_ name: String) -> String {
        guard let pem = keys[name] else { fatalError("no fixture key '\(name)'") }
        return pem
    }

    /// The key table most tests use: every fixture key under the kid its tokens carry.
    func standardKeys() throws -> [JWTVerifier.Key] {
        [
            try .hmac(secret: hmacSecret, algorithm: .hs256, id: "hs256-1"),
            try .hmac(secret: hmacSecret, algorithm: .hs384, id: "hs384-1"),
            try .hmac(secret: hmacSecret, algorithm: .hs512, id: "hs512-1"),
            try .publicKey(pem: pem("rsa1_public_pem"), id: "rsa-1"),
            try .publicKey(pem: pem("rsa1_public_pem"), algorithm: .rs384, id: "rsa-1-rs384"),
            try .publicKey(pem: pem("rsa1_public_pem"), algorithm: .rs512, id: "rsa-1-rs512"),
            try .publicKey(pem: pem("rsa1_public_pem"), algorithm: .ps256, id: "rsa-1-ps256"),
            try .publicKey(pem: pem("rsa2_public_pem"), algorithm: .rs256, id: "rsa-2"),
            try .publicKey(pem: pem("ec1_public_pem"), id: "ec-1"),
            try .publicKey(pem: pem("ec384_public_pem"), id: "ec384-1"),
            try .publicKey(pem: pem("ed1_public_pem"), id: "ed-1"),
        ]
    }

    func standardConfiguration() -> JWTVerifier.Configuration {
        JWTVerifier.Configuration(issuers: [issuer], audiences: [audience])
    }

    func standardVerifier(_ configuration: JWTVerifier.Configuration? = nil) throws -> JWTVerifier {
        JWTVerifier(keys: try standardKeys(), configuration: configuration ?? standardConfiguration())
    }

    private static func load() -> Fixtures {
        // Tests/MeridianTests/Security/JWTFixtures.swift -> Tests/fixtures/security/jwt-fixtures.json
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/security/jwt-fixtures.json")
        do {
            let data = try Data(contentsOf: url)
            guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                let now = root["now"] as? Double,
                let issuer = root["issuer"] as? String,
                let audience = root["audience"] as? String,
                let secret = root["hmac_secret_b64url"] as? String,
                let keys = root["keys"] as? [String: String],
                let jwks = root["jwks"],
                let tokens = root["tokens"] as? [String: String],
                let hmacSecret = Base64URL.decode(ArraySlice(secret.utf8))
            else { fatalError("fixtures.json has an unexpected shape; rerun Tests/fixtures/security/generate_jwt_fixtures.py") }
            return Fixtures(
                now: now,
                issuer: issuer,
                audience: audience,
                hmacSecret: hmacSecret,
                keys: keys,
                jwks: Array(try JSONSerialization.data(withJSONObject: jwks)),
                tokens: tokens
            )
        } catch {
            fatalError("cannot read \(url.path): \(error)")
        }
    }
}

/// Runs `body` and returns the rejection it throws, or `nil` if it verified. Any other error
/// (a fixture key that fails to load) is recorded as a test failure.
func rejection(_ body: () throws -> VerifiedToken) -> JWTRejection? {
    do {
        _ = try body()
        return nil
    } catch let rejection as JWTRejection {
        return rejection
    } catch {
        Issue.record("unexpected error: \(error)")
        return nil
    }
}
