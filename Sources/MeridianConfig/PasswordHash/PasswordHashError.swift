/// Why a stored password hash was refused, in words an operator can act on.
///
/// Equal when the kind matches (`.unsupportedFormat`, `.malformed`, `.tooCostly`), whatever the
/// detail, so callers and tests can match on the kind while `description` carries the full
/// message: what is wrong and `run "meridian hash-password" to make one`. Messages never repeat
/// the stored value, which may be a plain-text password pasted into the wrong field.
public struct PasswordHashError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
        case unsupportedFormat
        case malformed
        case tooCostly
    }

    private let kind: Kind
    private let detail: String

    private init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// Not bcrypt or argon2id/argon2i: plain text, md5-crypt, sha-crypt, argon2d, …
    public static let unsupportedFormat = PasswordHashError(.unsupportedFormat, "")
    /// A bcrypt or argon2 hash that does not parse: cut short, edited, or from a nonstandard tool.
    public static let malformed = PasswordHashError(.malformed, "")
    /// Well formed, but its cost parameters would make every login take seconds or gigabytes.
    public static let tooCostly = PasswordHashError(.tooCostly, "")

    static let remedy = #"run "meridian hash-password" to make one"#
    static let accepted = "bcrypt ($2a$, $2b$ or $2y$) or argon2id/argon2i ($argon2id$v=19$m=…,t=…,p=…$salt$hash)"

    static func unsupportedFormat(_ what: String) -> PasswordHashError {
        PasswordHashError(.unsupportedFormat, "\(what) is not an accepted password hash; use \(accepted): \(remedy)")
    }

    static func malformed(_ problem: String) -> PasswordHashError {
        PasswordHashError(.malformed, "malformed password hash: \(problem); \(remedy)")
    }

    static func tooCostly(_ problem: String) -> PasswordHashError {
        PasswordHashError(
            .tooCostly, "password hash too costly to verify: \(problem); replace it with a cheaper hash: \(remedy)")
    }

    public var description: String {
        if !detail.isEmpty { return detail }
        switch kind {
        case .unsupportedFormat: return "unsupported password hash format"
        case .malformed: return "malformed password hash"
        case .tooCostly: return "password hash too costly to verify"
        }
    }

    public static func == (lhs: PasswordHashError, rhs: PasswordHashError) -> Bool {
        lhs.kind == rhs.kind
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
    }
}
