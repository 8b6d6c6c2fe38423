extension Configuration {
    /// Named starting points, so most routes need one word of configuration.
    ///
    /// Values follow what helmet, Caddy's recipes and the Mozilla Observatory recommend:
    ///
    /// - `basic`, safe for any site, including ones that embed themselves or load third-party
    ///   scripts: `X-Content-Type-Options: nosniff`, `X-Frame-Options: SAMEORIGIN` and
    ///   `Content-Security-Policy: frame-ancestors 'self'` (from `frameAncestors: 'self'`),
    ///   `Referrer-Policy: strict-origin-when-cross-origin`, `Cross-Origin-Opener-Policy: same-origin`.
    /// - `strict`, for an HTTPS-only site that serves its own scripts and styles:
    ///   `Strict-Transport-Security: max-age=63072000; includeSubDomains` (two years),
    ///   `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
    ///   `Referrer-Policy: no-referrer`,
    ///   `Content-Security-Policy: default-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'`,
    ///   `Permissions-Policy: camera=(), microphone=(), geolocation=(), payment=()`,
    ///   `Cross-Origin-Opener-Policy: same-origin`, `Cross-Origin-Resource-Policy: same-origin`.
    public enum SecurityHeadersPreset: String, CaseIterable, Sendable {
        case basic
        case strict
    }

    /// Which security headers to add, as resolved from a preset and per-field overrides.
    ///
    /// A `nil` field (or an empty string) sends no header. `frameAncestors` is not a header of its
    /// own: it becomes the CSP `frame-ancestors` directive (CSP3 §6.4.2), appended to
    /// `contentSecurityPolicy` or sent as a policy of its own, plus the legacy
    /// `X-Frame-Options` (`DENY` for `'none'`, `SAMEORIGIN` for `'self'`, none for a list, since
    /// `ALLOW-FROM` is obsolete) for browsers without CSP frame-ancestors (RFC 7034; HTML §7.1.2
    /// ignores it where frame-ancestors applies).
    public struct SecurityHeaders: Sendable, Hashable {
        /// `Strict-Transport-Security` (RFC 6797), e.g. `max-age=63072000; includeSubDomains`.
        /// Browsers ignore it on plain-HTTP responses (RFC 6797 §8.1), so sending it there is harmless.
        public var hsts: String?
        /// Whether to send `X-Content-Type-Options: nosniff` (Fetch §3.5).
        public var contentTypeOptions: Bool
        /// `Referrer-Policy` (W3C Referrer Policy §4.1).
        public var referrerPolicy: String?
        /// `Content-Security-Policy` (CSP3 §3.1), without `frame-ancestors` when that is set below.
        public var contentSecurityPolicy: String?
        /// `Permissions-Policy` (W3C Permissions Policy §5.2), e.g. `camera=(), microphone=()`.
        public var permissionsPolicy: String?
        /// `Cross-Origin-Opener-Policy` (HTML §7.1.3).
        public var crossOriginOpenerPolicy: String?
        /// `Cross-Origin-Resource-Policy` (Fetch §3.7).
        public var crossOriginResourcePolicy: String?
        /// The CSP `frame-ancestors` source list, e.g. `'none'`, `'self'` or `'self' https://partner.example`.
        public var frameAncestors: String?
        /// Whether to replace headers the upstream already sent. `false` keeps them: the upstream
        /// knows its page (a CSP with nonces, say) better than a gateway-wide default does.
        public var override: Bool

        /// A configuration from a preset, with any field given here replacing the preset's.
        ///
        /// A `nil` argument keeps the preset's value; an empty string (or `false` for
        /// `contentTypeOptions`) removes that header from the preset.
        public init(
            preset: SecurityHeadersPreset? = nil,
            hsts: String? = nil,
            contentTypeOptions: Bool? = nil,
            referrerPolicy: String? = nil,
            contentSecurityPolicy: String? = nil,
            permissionsPolicy: String? = nil,
            crossOriginOpenerPolicy: String? = nil,
            crossOriginResourcePolicy: String? = nil,
            frameAncestors: String? = nil,
            override: Bool = false
        ) {
            let base = preset.map(Self.values(of:)) ?? Self.empty
            func pick(_ explicit: String?, _ fallback: String?) -> String? {
                guard let explicit else { return fallback }
                return explicit.allSatisfy({ $0 == " " || $0 == "\t" }) ? nil : explicit
            }
            self.hsts = pick(hsts, base.hsts)
            self.contentTypeOptions = contentTypeOptions ?? base.contentTypeOptions
            self.referrerPolicy = pick(referrerPolicy, base.referrerPolicy)
            self.contentSecurityPolicy = pick(contentSecurityPolicy, base.contentSecurityPolicy)
            self.permissionsPolicy = pick(permissionsPolicy, base.permissionsPolicy)
            self.crossOriginOpenerPolicy = pick(crossOriginOpenerPolicy, base.crossOriginOpenerPolicy)
            self.crossOriginResourcePolicy = pick(crossOriginResourcePolicy, base.crossOriginResourcePolicy)
            self.frameAncestors = pick(frameAncestors, base.frameAncestors)
            self.override = override
        }

        private init(
            hsts: String?,
            contentTypeOptions: Bool,
            referrerPolicy: String?,
            contentSecurityPolicy: String?,
            permissionsPolicy: String?,
            crossOriginOpenerPolicy: String?,
            crossOriginResourcePolicy: String?,
            frameAncestors: String?
        ) {
            self.hsts = hsts
            self.contentTypeOptions = contentTypeOptions
            self.referrerPolicy = referrerPolicy
            self.contentSecurityPolicy = contentSecurityPolicy
            self.permissionsPolicy = permissionsPolicy
            self.crossOriginOpenerPolicy = crossOriginOpenerPolicy
            self.crossOriginResourcePolicy = crossOriginResourcePolicy
            self.frameAncestors = frameAncestors
            self.override = false
        }

        private static let empty = SecurityHeaders(
            hsts: nil,
            contentTypeOptions: false,
            referrerPolicy: nil,
            contentSecurityPolicy: nil,
            permissionsPolicy: nil,
            crossOriginOpenerPolicy: nil,
            crossOriginResourcePolicy: nil,
            frameAncestors: nil
        )

        private static func values(of preset: SecurityHeadersPreset) -> SecurityHeaders {
            switch preset {
            case .basic:
                return SecurityHeaders(
                    hsts: nil,
                    contentTypeOptions: true,
                    referrerPolicy: "strict-origin-when-cross-origin",
                    contentSecurityPolicy: nil,
                    permissionsPolicy: nil,
                    crossOriginOpenerPolicy: "same-origin",
                    crossOriginResourcePolicy: nil,
                    frameAncestors: "'self'"
                )
            case .strict:
                return SecurityHeaders(
                    hsts: "max-age=63072000; includeSubDomains",
                    contentTypeOptions: true,
                    referrerPolicy: "no-referrer",
                    contentSecurityPolicy: "default-src 'self'; object-src 'none'; base-uri 'self'",
                    permissionsPolicy: "camera=(), microphone=(), geolocation=(), payment=()",
                    crossOriginOpenerPolicy: "same-origin",
                    crossOriginResourcePolicy: "same-origin",
                    frameAncestors: "'none'"
                )
            }
        }
    }
}
