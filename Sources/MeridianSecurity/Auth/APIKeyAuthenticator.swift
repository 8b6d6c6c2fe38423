public import MeridianConfig
public import MeridianCore
internal import NIOHTTP1

/// `api_key`: a key in a header or query parameter, looked up by its SHA-256 digest; the key's name becomes the
/// identity (logs, spans) and an upstream header.
public struct APIKeyAuthenticator: RequestAuthenticator {
    let config: Configuration.APIKey
    let table: APIKeyTable
    let realm: String

    public init(_ config: Configuration.APIKey, name: String) throws {
        self.config = config
        self.table = try APIKeyTable(config.keys.map { ($0.name, $0.sha256) })
        self.realm = name
    }

    public var upstreamHeaders: [String] { config.nameHeader.map { [$0] } ?? [] }
    public var deniedResults: [String] { ["missing", "invalid"] }

    public func authenticate(_ request: Request, context: RequestContext) -> AuthCheck {
        var presented: String?
        if let header = config.header { presented = request.fields.first(name: header) }
        if presented == nil, let query = config.query { presented = request.queryValue(query) }
        let challenge = "ApiKey realm=\"\(realm)\""
        guard let presented, !presented.isEmpty else { return .now(.denied(.unauthorized(challenge: challenge), result: "missing")) }
        guard let name = table.lookup(presented.utf8) else { return .now(.denied(.unauthorized(challenge: challenge), result: "invalid")) }
        return .now(.allowed(identity: name, headers: config.nameHeader.map { [($0, name)] } ?? []))
    }
}
