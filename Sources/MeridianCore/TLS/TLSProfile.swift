internal import NIOSSL

/// A TLS protocol version a listener may offer as its lowest.
public enum TLSProtocolVersion: Sendable, Equatable {
    case tls10, tls11, tls12, tls13

    var nioVersion: TLSVersion {
        switch self {
        case .tls10: .tlsv1
        case .tls11: .tlsv11
        case .tls12: .tlsv12
        case .tls13: .tlsv13
        }
    }
}

/// Mozilla's server-side TLS configurations, version 5.7 (https://ssl-config.mozilla.org/): what a listener
/// offers before its own `min_version` / `ciphers`.
///
/// The lists are Mozilla's OpenSSL names less the finite-field DHE suites, which BoringSSL does not
/// implement. TLS 1.3's suites are not configurable in BoringSSL and are the three Mozilla lists (AES-128-GCM,
/// AES-256-GCM, ChaCha20-Poly1305). `sslyze --mozilla_config=…` checks a running listener against each
/// (Tests/MeridianTests/TLSProfileTests.swift).
public enum TLSProfile: Sendable {
    case modern, intermediate, old

    public var minimumVersion: TLSProtocolVersion {
        switch self {
        case .modern: .tls13
        case .intermediate: .tls12
        case .old: .tls10
        }
    }

    /// The TLS 1.2-and-earlier cipher list.
    public var ciphers: String {
        switch self {
        // TLS 1.3 only: nothing older is negotiated, so the list only matters if min_version lowers it.
        case .modern, .intermediate: Self.forwardSecretAEAD
        case .old: Self.forwardSecretAEAD + ":" + Self.legacy
        }
    }

    /// ECDHE key exchange with an AEAD cipher: forward secrecy, no CBC padding oracles, no SHA-1 MAC.
    static let forwardSecretAEAD = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    /// What the old profile adds for clients from before 2013 (IE 8 on XP, Java 6): CBC suites and RSA key exchange.
    static let legacy = [
        "ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
        "ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
        "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA256", "AES256-SHA256", "AES128-SHA", "AES256-SHA", "DES-CBC3-SHA",
    ].joined(separator: ":")
}
