/// Why a configured list of API keys was refused, naming the entry by its index and name.
///
/// Equal when the kind matches, whatever the entry, so callers and tests can match on
/// `.duplicateName`, `.duplicateDigest`, `.invalidDigest` or `.invalidName`; `entryIndex` and
/// `description` carry where and what (the kind constants themselves have `entryIndex` -1).
public struct APIKeyTableError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
        case duplicateName
        case duplicateDigest
        case invalidDigest
        case invalidName
    }

    private let kind: Kind
    /// The index of the offending entry in the list given to `APIKeyTable.init`.
    public let entryIndex: Int
    public let description: String

    private init(_ kind: Kind, entryIndex: Int, _ description: String) {
        self.kind = kind
        self.entryIndex = entryIndex
        self.description = description
    }

    /// Two entries share a name.
    public static let duplicateName = APIKeyTableError(.duplicateName, entryIndex: -1, "duplicate API key name")
    /// Two entries share a digest: one key under two names.
    public static let duplicateDigest = APIKeyTableError(.duplicateDigest, entryIndex: -1, "duplicate API key digest")
    /// Not 64 hex digits, or the digest of the empty key.
    public static let invalidDigest = APIKeyTableError(.invalidDigest, entryIndex: -1, "invalid API key digest")
    /// An empty name.
    public static let invalidName = APIKeyTableError(.invalidName, entryIndex: -1, "invalid API key name")

    static func duplicateName(at index: Int, name: String, first: Int) -> APIKeyTableError {
        APIKeyTableError(
            .duplicateName, entryIndex: index,
            "api key \(index) (\"\(name)\"): the name is already used by api key \(first); give each key its own name"
        )
    }

    static func duplicateDigest(at index: Int, name: String, first: Int, firstName: String) -> APIKeyTableError {
        APIKeyTableError(
            .duplicateDigest, entryIndex: index,
            "api key \(index) (\"\(name)\"): same sha256 as api key \(first) (\"\(firstName)\"); "
                + "one key cannot have two names, so generate a separate key for each client"
        )
    }

    static func invalidDigest(at index: Int, name: String, _ problem: String) -> APIKeyTableError {
        APIKeyTableError(
            .invalidDigest, entryIndex: index,
            "api key \(index) (\"\(name)\"): \(problem); give the key's SHA-256 as 64 hex digits, "
                + "e.g. from: printf %s \"$KEY\" | sha256sum"
        )
    }

    static func invalidName(at index: Int) -> APIKeyTableError {
        APIKeyTableError(
            .invalidName, entryIndex: index,
            "api key \(index): the name is empty; give each key a name (logs and access rules use it)"
        )
    }

    public static func == (lhs: APIKeyTableError, rhs: APIKeyTableError) -> Bool {
        lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
    }
}
