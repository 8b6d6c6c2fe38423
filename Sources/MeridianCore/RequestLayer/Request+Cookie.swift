extension Request {
    /// The value of cookie `name` (RFC 6265 §5.4: `name=value` pairs separated by `;`), the first if several; nil
    /// when the request has none by that name. For keys (rate limits) and credentials (the session gate).
    public func cookie(_ name: String) -> Substring? {
        for header in fields[canonicalForm: "cookie"] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard trimmed.hasPrefix(name), trimmed.dropFirst(name.count).first == "=" else { continue }
                return trimmed.dropFirst(name.count + 1)
            }
        }
        return nil
    }
}
