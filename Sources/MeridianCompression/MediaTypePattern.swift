/// A media type, or a family of them, that a compression setting names: `text/html`, `text/*`,
/// `application/*+json` (a structured syntax suffix, RFC 6838 §4.2.8) or `*/*`.
///
/// Matching ignores case and parameters (`text/html; charset=utf-8` is `text/html`), as media types do
/// (RFC 9110 §8.3.1).
public struct MediaTypePattern: Sendable, Hashable, CustomStringConvertible {
    private enum Form: Hashable {
        case any
        case type(String)
        case suffix(type: String, suffix: String)
        case exact(String)
    }

    private let form: Form

    /// Reads `type/subtype`, `type/*`, `type/*+suffix` or `*/*`; nil for anything else, so that configuration
    /// validation can point at the setting.
    public init?(_ text: String) {
        let text = text.lowercased()
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let type = parts.first, let subtype = parts.last, !type.isEmpty, !subtype.isEmpty,
            !text.contains(where: { $0 == " " || $0 == ";" || $0 == "," })
        else { return nil }
        switch (type, subtype) {
        case ("*", "*"): form = .any
        case ("*", _): return nil
        case (_, "*"): form = .type(String(type))
        case (_, _) where subtype.hasPrefix("*+") && subtype.count > 2:
            form = .suffix(type: String(type), suffix: String(subtype.dropFirst(2)))
        case (_, _) where subtype.contains("*"): return nil
        default: form = .exact(text)
        }
    }

    public var description: String {
        switch form {
        case .any: "*/*"
        case .type(let type): "\(type)/*"
        case .suffix(let type, let suffix): "\(type)/*+\(suffix)"
        case .exact(let mediaType): mediaType
        }
    }

    /// How precisely the pattern names a type: an exact type beats a suffix family, which beats a whole top-level
    /// type, which beats `*/*`.
    var specificity: Int {
        switch form {
        case .any: 0
        case .type: 1
        case .suffix: 2
        case .exact: 3
        }
    }

    /// Whether `mediaType` (lowercase `type/subtype`, no parameters) is one the pattern names.
    func matches(_ mediaType: Substring) -> Bool {
        switch form {
        case .any:
            return true
        case .exact(let exact):
            return mediaType == exact
        case .type(let type):
            return mediaType.hasPrefix(type) && mediaType.dropFirst(type.count).first == "/"
        case .suffix(let type, let suffix):
            guard mediaType.hasPrefix(type), mediaType.dropFirst(type.count).first == "/" else { return false }
            return mediaType.hasSuffix("+" + suffix)
        }
    }

    /// The `type/subtype` of a `Content-Type` value, lowercased, without parameters; nil if there is none.
    static func mediaType(ofContentType value: String) -> Substring? {
        let mediaType = value.lowercased().prefix { $0 != ";" }.trimmingOWS
        guard let slash = mediaType.firstIndex(of: "/"), slash != mediaType.startIndex,
            mediaType.index(after: slash) != mediaType.endIndex
        else { return nil }
        return mediaType
    }
}
