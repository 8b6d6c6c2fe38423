/// Precondition evaluation (RFC 9110 §13.2.2), in the order the RFC gives. Pure.
public enum ConditionalRequest {
    public enum Outcome: Equatable, Sendable {
        case proceed
        case notModified
        case preconditionFailed
    }

    /// - Parameters:
    ///   - etag: the current strong entity tag, quoted (`"abc"`).
    ///   - lastModified: the current modification time in seconds since the epoch.
    ///   - isGetOrHead: 304 only applies to GET and HEAD; other methods get 412.
    public static func evaluate(
        ifMatch: String?, ifUnmodifiedSince: String?, ifNoneMatch: String?, ifModifiedSince: String?,
        etag: String, lastModified: Int, isGetOrHead: Bool
    ) -> Outcome {
        // 1. If-Match (strong comparison)
        if let ifMatch {
            if !matches(ifMatch, etag: etag, weak: false) { return .preconditionFailed }
        } else if let ius = ifUnmodifiedSince, let date = DateParser.parse(ius) {
            // 2. If-Unmodified-Since, only when If-Match is absent
            if lastModified > date { return .preconditionFailed }
        }
        // 3. If-None-Match (weak comparison)
        if let ifNoneMatch {
            if matches(ifNoneMatch, etag: etag, weak: true) {
                return isGetOrHead ? .notModified : .preconditionFailed
            }
        } else if isGetOrHead, let ims = ifModifiedSince, let date = DateParser.parse(ims) {
            // 4. If-Modified-Since, only when If-None-Match is absent
            if lastModified <= date { return .notModified }
        }
        return .proceed
    }

    /// If-Range (RFC 9110 §13.1.5): true when the Range may be honoured.
    public static func ifRangeAllows(_ ifRange: String?, etag: String, lastModified: Int) -> Bool {
        guard let value = ifRange?.trimmingCharacters(in: " \t") else { return true }
        if value.hasPrefix("\"") || value.hasPrefix("W/") {
            return !value.hasPrefix("W/") && value == etag
        }
        guard let date = DateParser.parse(value) else { return false }
        return date == lastModified
    }

    /// `*` or a comma-separated list of entity tags, compared weakly or strongly.
    static func matches(_ header: String, etag: String, weak: Bool) -> Bool {
        let trimmed = header.trimmingCharacters(in: " \t")
        if trimmed == "*" { return true }
        let current = etag.hasPrefix("W/") ? String(etag.dropFirst(2)) : etag
        for raw in trimmed.split(separator: ",") {
            var tag = raw.trimmingCharacters(in: " \t")
            if tag.hasPrefix("W/") {
                if !weak { continue }
                tag = String(tag.dropFirst(2))
            }
            if tag == current { return true }
        }
        return false
    }
}
