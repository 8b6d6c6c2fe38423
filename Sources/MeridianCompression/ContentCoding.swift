/// A content coding Meridian can apply to a response body (RFC 9110 §8.4.1), or none.
///
/// The cases are in the server's order of preference at equal client weight: brotli compresses text better
/// than gzip at a similar cost, and either is better than sending the bytes as they are.
public enum ContentCoding: String, Sendable, Hashable, CaseIterable {
    /// Brotli (RFC 7932), token `br`.
    case brotli = "br"
    /// gzip (RFC 1952), token `gzip`; a client's `x-gzip` means the same (RFC 9110 §8.4.1.3).
    case gzip
    /// No coding: the representation as it is.
    case identity

    /// The token in `Content-Encoding` and `Accept-Encoding`.
    public var token: String { rawValue }

    /// The coding a token names, compared case-insensitively (RFC 9110 §8.4.1), or nil for one Meridian does not
    /// produce (`deflate`, `zstd`, `compress`, …).
    public init?(token: some StringProtocol) {
        switch token.lowercased() {
        case "br": self = .brotli
        case "gzip", "x-gzip": self = .gzip
        case "identity": self = .identity
        default: return nil
        }
    }

    /// Lower is preferred when the client gives two codings the same weight.
    var preference: Int {
        switch self {
        case .brotli: 0
        case .gzip: 1
        case .identity: 2
        }
    }
}
