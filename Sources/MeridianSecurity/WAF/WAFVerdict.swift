/// What the WAF decided about one request, and why.
///
/// Rule ids come back in both modes, so detection mode can be run in production first and its
/// `matchedRuleIDs` read from the access log before blocking is turned on (the usual way to
/// introduce the CRS, which its own documentation calls "easing in").
public struct WAFVerdict: Sendable, Hashable {
    /// True only in blocking mode, when a rule interrupted the request with a status of 400 or more.
    public var blocked: Bool
    /// The status ModSecurity asked for (403 for the CRS's `deny`), or nil when no rule interrupted.
    public var status: Int?
    /// CRS rule ids that matched, in the order they matched, each once: 942100 (SQLi via
    /// libinjection), 941100 (XSS), 930100 (path traversal), 932100 (Unix command injection),
    /// 913100 (scanner user agent), … and 949110 when the inbound anomaly score reached the threshold.
    public var matchedRuleIDs: [Int]
    /// The CRS inbound anomaly score (`tx.anomaly_score` at the paranoia level in force): the sum of
    /// the severities of the matched rules (critical 5, error 4, warning 3, notice 2). 0 when no
    /// scoring rule matched.
    public var anomalyScore: Int
    /// The `msg` texts of the matched rules, at most `WAFVerdict.maximumMessages`, each cut to
    /// `WAFVerdict.maximumMessageLength` characters, so a verdict stays small enough to log.
    public var messages: [String]
    /// The body was longer than `maxBodyBytes`; only its first `maxBodyBytes` were inspected.
    public var bodyTruncated: Bool

    public static let maximumMessages = 16
    public static let maximumMessageLength = 200

    public init(
        blocked: Bool,
        status: Int?,
        matchedRuleIDs: [Int],
        anomalyScore: Int,
        messages: [String],
        bodyTruncated: Bool
    ) {
        self.blocked = blocked
        self.status = status
        self.matchedRuleIDs = matchedRuleIDs
        self.anomalyScore = anomalyScore
        self.messages = messages
        self.bodyTruncated = bodyTruncated
    }
}
