extension WAFEngine {
    /// Whether a verdict can stop a request.
    public enum Mode: String, Sendable, Hashable {
        /// `SecRuleEngine DetectionOnly`: rules run and report, nothing is blocked.
        case detection
        /// `SecRuleEngine On`: the CRS blocks when the inbound anomaly score reaches the threshold.
        case blocking
    }

    /// Rules an operator adds around the CRS: a file ModSecurity reads, or SecLang text.
    public enum RuleSource: Sendable, Hashable {
        case file(String)
        case inline(String)
    }

    /// What the engine loads, fixed for the engine's lifetime (a reload builds a new engine).
    ///
    /// The defaults are the CRS's own: paranoia level 1, an inbound threshold of 5 (one critical
    /// match blocks), and its method allow-list. The body bound defaults to 128 KiB, the
    /// `SecRequestBodyNoFilesLimit` of ModSecurity's modsecurity.conf-recommended: past it the rest
    /// is not inspected (`SecRequestBodyLimitAction ProcessPartial`), so a large body is judged on
    /// its first 128 KiB rather than refused for its size — Meridian's own body limits refuse
    /// sizes, the WAF judges content.
    public struct Configuration: Sendable, Hashable {
        public var mode: Mode
        /// CRS paranoia level 1...4: higher levels run more rules and find more, with more false
        /// positives (the CRS expects exclusions to be written from PL2 up).
        public var paranoiaLevel: Int
        /// `tx.inbound_anomaly_score_threshold`: block when the summed severities reach it.
        public var anomalyThreshold: Int
        /// The most body bytes inspected per request.
        public var maxBodyBytes: Int
        /// `tx.allowed_methods`; CRS 911100 scores any other method as critical, so a route that
        /// takes PUT, PATCH or DELETE needs them listed here.
        public var allowedMethods: [String]
        /// `tx.allowed_request_content_type`: CRS 920420 scores any other request Content-Type as
        /// critical. Lowercase `type/subtype`. Adding a type with no body processor (octet-stream,
        /// text/plain) lets such bodies through with only the raw-body rules looking at them,
        /// which is what the CRS setup file's "Bypass Warning" is about: add types per route need.
        public var allowedContentTypes: [String]
        /// The CRS installation: `rules/REQUEST-*.conf` and its data files live under it.
        public var crsDirectory: String
        /// The CRS setup file, loaded before the rules (`SecDefaultAction`, `tx.*` defaults). When
        /// nil, the engine writes the two `SecDefaultAction` lines the CRS needs itself.
        public var crsSetupFile: String?
        /// Also load `rules/RESPONSE-*.conf`. Off by default: Meridian inspects requests only, so
        /// the response rules could only add their phase-5 correlation rules to every request.
        public var loadsResponseRules: Bool
        /// Loaded after the setup and before the CRS rules: runtime exclusions (`ctl:ruleRemove…`).
        public var rulesBeforeCRS: [RuleSource]
        /// Loaded after the CRS rules: configure-time exclusions (`SecRuleRemoveById`,
        /// `SecRuleUpdateTargetById`) and the operator's own rules.
        public var rulesAfterCRS: [RuleSource]

        /// Debian's modsecurity-crs package.
        public static let debianCRSDirectory = "/usr/share/modsecurity-crs"
        public static let debianCRSSetupFile = "/etc/modsecurity/crs/crs-setup.conf"
        /// The CRS 3.3 default of `tx.allowed_methods`.
        public static let crsDefaultAllowedMethods = ["GET", "HEAD", "POST", "OPTIONS"]
        /// The CRS 3.3.4 default of `tx.allowed_request_content_type` (REQUEST-901, rule 901162).
        public static let crsDefaultAllowedContentTypes = [
            "application/x-www-form-urlencoded", "multipart/form-data", "multipart/related", "text/xml",
            "application/xml", "application/soap+xml", "application/json", "application/cloudevents+json",
            "application/cloudevents-batch+json",
        ]

        public init(
            mode: Mode = .blocking,
            paranoiaLevel: Int = 1,
            anomalyThreshold: Int = 5,
            maxBodyBytes: Int = 128 * 1024,
            allowedMethods: [String] = Configuration.crsDefaultAllowedMethods,
            allowedContentTypes: [String] = Configuration.crsDefaultAllowedContentTypes,
            crsDirectory: String = Configuration.debianCRSDirectory,
            crsSetupFile: String? = Configuration.debianCRSSetupFile,
            loadsResponseRules: Bool = false,
            rulesBeforeCRS: [RuleSource] = [],
            rulesAfterCRS: [RuleSource] = []
        ) {
            self.mode = mode
            self.paranoiaLevel = paranoiaLevel
            self.anomalyThreshold = anomalyThreshold
            self.maxBodyBytes = maxBodyBytes
            self.allowedMethods = allowedMethods
            self.allowedContentTypes = allowedContentTypes
            self.crsDirectory = crsDirectory
            self.crsSetupFile = crsSetupFile
            self.loadsResponseRules = loadsResponseRules
            self.rulesBeforeCRS = rulesBeforeCRS
            self.rulesAfterCRS = rulesAfterCRS
        }

        /// Refuses values that ModSecurity would take silently and that would weaken or break the WAF.
        func validate() throws(WAFEngineError) {
            guard (1...4).contains(paranoiaLevel) else {
                throw .invalidConfiguration("paranoia level \(paranoiaLevel) is outside 1...4; use 1 to start")
            }
            guard anomalyThreshold >= 1 else {
                throw .invalidConfiguration(
                    "the anomaly threshold must be at least 1, not \(anomalyThreshold) (5 blocks on one critical match)"
                )
            }
            guard maxBodyBytes >= 1, maxBodyBytes <= 1 << 30 else {
                throw .invalidConfiguration("maxBodyBytes \(maxBodyBytes) is outside 1...1 GiB; 128 KiB is the default")
            }
            guard !allowedMethods.isEmpty else {
                throw .invalidConfiguration("allowedMethods is empty: every request would score as critical")
            }
            for method in allowedMethods where !Self.isToken(method) {
                throw .invalidConfiguration(
                    "allowed method \"\(method)\" is not an HTTP method token (RFC 9110 §9.1: letters, digits, !#$%&'*+-.^_`|~)"
                )
            }
            for contentType in allowedContentTypes where !Self.isMediaType(contentType) {
                throw .invalidConfiguration(
                    "allowed content type \"\(contentType)\" is not a lowercase type/subtype such as application/json")
            }
        }

        private static func isMediaType(_ text: String) -> Bool {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 2 && parts.allSatisfy { isToken(String($0)) }
                && !text.utf8.contains {
                    (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || $0 == UInt8(ascii: "|")
                }
        }

        /// RFC 9110 §5.6.2 `token`, minus the quote: the list goes into a quoted SecLang `setvar`.
        private static func isToken(_ text: String) -> Bool {
            !text.isEmpty
                && text.utf8.allSatisfy { byte in
                    switch byte {
                    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                        UInt8(ascii: "0")...UInt8(ascii: "9"):
                        return true
                    default:
                        return "!#$%&*+-.^_`|~".utf8.contains(byte)
                    }
                }
        }
    }
}
