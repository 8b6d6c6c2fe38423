/// One member of a `Cache-Status` field (RFC 9211): what one cache did with the request.
///
/// Serialised as an RFC 8941 list member: the cache's name as a token (or a string when it is not a valid
/// token), then its parameters in the order RFC 9211 §2 defines them.
public struct CacheStatus: Sendable, Equatable {
    /// Why the cache forwarded the request (RFC 9211 §2.2).
    public enum Forward: String, Sendable, Equatable, CaseIterable {
        /// Configured to not use the cache for this request.
        case bypass
        /// The method is not cacheable.
        case method
        /// No stored response for the URI.
        case uriMiss = "uri-miss"
        /// Stored responses for the URI, none for the request's `Vary` fields.
        case varyMiss = "vary-miss"
        /// A miss whose kind the cache does not tell apart.
        case miss
        /// The request's directives (e.g. `no-cache`) prevented a stored response from being used.
        case request
        /// The stored response was stale and needed validation.
        case stale
        /// Only part of the response was stored.
        case partial
    }

    /// The cache's name: `meridian-l1` or `meridian-l2`.
    public var cache: String
    /// Served from this cache without going forward (§2.1).
    public var hit: Bool
    /// Why it went forward (§2.2).
    public var forward: Forward?
    /// The status of the response from the next hop (§2.3).
    public var forwardStatus: Int?
    /// Remaining freshness in seconds, negative once stale (§2.4).
    public var ttl: Int?
    /// The response was stored (§2.5).
    public var stored: Bool
    /// The request was collapsed with another one (§2.6).
    public var collapsed: Bool
    /// The cache key, for debugging (§2.7).
    public var key: String?
    /// Implementation-specific detail, e.g. a `NotStoredReason.text` (§2.8).
    public var detail: String?

    public init(
        cache: String,
        hit: Bool = false,
        forward: Forward? = nil,
        forwardStatus: Int? = nil,
        ttl: Int? = nil,
        stored: Bool = false,
        collapsed: Bool = false,
        key: String? = nil,
        detail: String? = nil
    ) {
        self.cache = cache
        self.hit = hit
        self.forward = forward
        self.forwardStatus = forwardStatus
        self.ttl = ttl
        self.stored = stored
        self.collapsed = collapsed
        self.key = key
        self.detail = detail
    }

    /// The member as field text, e.g. `meridian-l2; fwd=uri-miss; fwd-status=200; stored`.
    ///
    /// Boolean parameters appear only when true (`;name`, RFC 8941 §3.1.2); integers are clamped to the 15 digits
    /// of an sf-integer (§3.3.1); `key` is an sf-string (RFC 9211 §2.7); `detail` a token when it is one, else a
    /// string (§2.8). Strings escape `\` and `"`, and characters outside printable ASCII, which an sf-string cannot
    /// hold (RFC 8941 §3.3.3), become `?`.
    public var fieldValue: String {
        var value = Self.isToken(cache) ? cache : Self.quoted(cache)
        if hit { value += "; hit" }
        if let forward { value += "; fwd=" + forward.rawValue }
        if let forwardStatus { value += "; fwd-status=" + Self.integer(forwardStatus) }
        if let ttl { value += "; ttl=" + Self.integer(ttl) }
        if stored { value += "; stored" }
        if collapsed { value += "; collapsed" }
        if let key { value += "; key=" + Self.quoted(key) }
        if let detail { value += "; detail=" + (Self.isToken(detail) ? detail : Self.quoted(detail)) }
        return value
    }

    /// Several members as one field value, in the order given. RFC 9211 §2 lists the cache nearest the origin
    /// first, so for Meridian L2's member goes before L1's (`meridian-l2; …, meridian-l1; …`).
    public static func join(_ members: [CacheStatus]) -> String {
        members.map(\.fieldValue).joined(separator: ", ")
    }

    /// An sf-token: ALPHA or `*` first, then tchar, `:` or `/` (RFC 8941 §3.3.4).
    static func isToken(_ text: String) -> Bool {
        guard let first = text.utf8.first,
            (first >= UInt8(ascii: "a") && first <= UInt8(ascii: "z"))
                || (first >= UInt8(ascii: "A") && first <= UInt8(ascii: "Z")) || first == UInt8(ascii: "*")
        else { return false }
        return text.utf8.allSatisfy {
            CacheFieldSyntax.isTokenByte($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "/")
        }
    }

    /// An sf-string (RFC 8941 §3.3.3).
    static func quoted(_ text: String) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "\"")]
        bytes.reserveCapacity(text.utf8.count + 2)
        var skippingContinuation = false
        for byte in text.utf8 {
            if byte >= 0x80 {
                // One `?` per non-ASCII character: its lead byte, not its continuation bytes.
                if byte >= 0xC0 || !skippingContinuation { bytes.append(UInt8(ascii: "?")) }
                skippingContinuation = true
                continue
            }
            skippingContinuation = false
            if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") {
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            } else if byte < 0x20 || byte == 0x7F {
                bytes.append(UInt8(ascii: "?"))
            } else {
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An sf-integer, clamped to ±999,999,999,999,999 (RFC 8941 §3.3.1).
    private static func integer(_ value: Int) -> String {
        String(min(max(value, -999_999_999_999_999), 999_999_999_999_999))
    }
}
