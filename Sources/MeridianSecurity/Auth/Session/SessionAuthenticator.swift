internal import Crypto
internal import Foundation
public import MeridianConfig
public import MeridianCore
internal import NIOHTTP1

/// `session`: the gate in front of an application's protected pages. A request with a valid session cookie (see
/// ``SessionCookie``) passes as its user; one without goes to the login page with its own target in `next` when
/// it is a browser asking for a page (GET or HEAD accepting `text/html`), and is refused 401 otherwise (an API
/// call should not receive a login page).
///
/// Opening the cookie is one AES-GCM decryption of a few dozen bytes: done on the event loop. Keys rotate by
/// moving the current one to `previous_key_*`: cookies sealed with either open until they expire.
public struct SessionAuthenticator: RequestAuthenticator {
    let config: Configuration.Session
    let keys: [SymmetricKey]
    let challenge: String

    public init(_ config: Configuration.Session, environment: [String: String]) throws {
        self.config = config
        var keys = [try Self.load(config.key, environment: environment)]
        if let previous = config.previousKey { keys.append(try Self.load(previous, environment: environment)) }
        self.keys = keys
        self.challenge = "Cookie realm=\"\(config.realm)\", cookie-name=\"\(config.cookie)\""
    }

    public var upstreamHeaders: [String] { config.userHeader.map { [$0] } ?? [] }
    public var deniedResults: [String] { ["missing", "invalid", "expired"] }

    public func authenticate(_ request: Request, context: RequestContext) -> AuthCheck {
        guard let value = request.cookie(config.cookie) else { return .now(refuse(request, "missing")) }
        guard let contents = SessionCookie.open(value, keys: keys, cookieName: config.cookie) else { return .now(refuse(request, "invalid")) }
        guard contents.expires > Date().timeIntervalSince1970 else { return .now(refuse(request, "expired")) }
        return .now(.allowed(identity: contents.user, headers: config.userHeader.map { [($0, contents.user)] } ?? []))
    }

    private func refuse(_ request: Request, _ result: String) -> AuthOutcome {
        guard let login = config.loginURL, Self.wantsPage(request) else {
            return .denied(.unauthorized(challenge: challenge), result: result)
        }
        // The target as the client sent it (origin-form); anything else goes back to the root.
        let target = request.uri.hasPrefix("/") && !request.uri.hasPrefix("//") ? request.uri : "/"
        let separator = login.contains("?") ? "&" : "?"
        var r = Response(status: .found)
        r.headers.add(name: "location", value: login + separator + config.nextParameter + "=" + Self.formEncoded(target))
        r.headers.add(name: "cache-control", value: "no-store")
        return .denied(r, result: result)
    }

    /// A browser navigating: GET or HEAD that accepts HTML.
    static func wantsPage(_ request: Request) -> Bool {
        guard request.method == .GET || request.method == .HEAD else { return false }
        return request.fields[canonicalForm: "accept"].contains { $0.lowercased().contains("text/html") }
    }

    static func formEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "/"
    }

    static func load(_ source: Configuration.Session.KeySource, environment: [String: String]) throws -> SymmetricKey {
        let text: String
        let origin: String
        switch source {
        case .environment(let name):
            origin = "the environment variable \(name)"
            guard let v = environment[name] else { throw SessionKeyError(description: "\(origin) is not set") }
            text = v
        case .file(let path):
            origin = path
            text = try String(contentsOfFile: path, encoding: .utf8)
        }
        guard let key = SessionCookie.key(fromText: text) else {
            throw SessionKeyError(description: "\(origin) does not hold a 32-byte key (base64 or 64 hex digits; openssl rand -base64 32 makes one)")
        }
        return key
    }
}

struct SessionKeyError: Error, CustomStringConvertible {
    var description: String
}
