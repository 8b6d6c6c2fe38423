/// Why an `Authorization` header did not yield Basic credentials.
///
/// Two kinds, because callers answer them differently: `.notBasic` is another scheme (Bearer,
/// Digest, …) that another authenticator may accept, `.malformed` is a broken Basic header, to be
/// answered with 400 or a fresh 401 challenge. Equal when the kind matches. The description
/// never repeats the header's credentials.
public struct BasicCredentialsError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
        case notBasic
        case malformed
    }

    private let kind: Kind
    public let description: String

    private init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// The header uses another authentication scheme.
    public static let notBasic = BasicCredentialsError(.notBasic, "Authorization uses a scheme other than Basic")
    /// The header says Basic but is not valid RFC 7617 credentials.
    public static let malformed = BasicCredentialsError(.malformed, "malformed Basic credentials")

    static func notBasic(scheme: some Collection<UInt8>) -> BasicCredentialsError {
        let name = String(decoding: scheme.prefix(32), as: UTF8.self)
        return BasicCredentialsError(.notBasic, "Authorization uses the \"\(name)\" scheme, not Basic")
    }

    static func malformed(_ problem: String) -> BasicCredentialsError {
        BasicCredentialsError(.malformed, "malformed Basic credentials: \(problem)")
    }

    public static func == (lhs: BasicCredentialsError, rhs: BasicCredentialsError) -> Bool {
        lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
    }
}
