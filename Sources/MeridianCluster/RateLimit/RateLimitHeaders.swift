/// The `RateLimit-Policy` and `RateLimit` header fields of draft-ietf-httpapi-ratelimit-headers (-08 to -10,
/// the Structured Field versions: RFC 9651 Lists of Strings with Integer parameters), and `Retry-After`
/// (RFC 9110 §10.2.3) for refusals.
///
/// ```
/// RateLimit-Policy: "api";q=100;w=60
/// RateLimit: "api";r=42;t=1
/// Retry-After: 3
/// ```
///
/// Seconds are whole and rounded up, so a client that waits what it is told finds what it was promised. The
/// partition key parameter (`pk`) is not written: it would show clients how the server tells them apart.
public enum RateLimitHeaders {
    public static let policyFieldName = "RateLimit-Policy"
    public static let rateLimitFieldName = "RateLimit"
    public static let retryAfterFieldName = "Retry-After"

    /// The largest sf-integer (RFC 9651 §3.3.1: at most 15 digits); larger values are written as this.
    public static let maxInteger = 999_999_999_999_999

    /// One quota policy item of `RateLimit-Policy` (draft §3.1).
    public struct Policy: Sendable, Equatable {
        /// The policy's identifier, written as an sf-string (see ``RateLimitHeaders/sfString(_:)``).
        public var name: String
        /// `q`: the quota, in quota units.
        public var quota: Int
        /// `w`: the window, written in whole seconds rounded up (at least 1, as the draft requires a non-zero
        /// window); `nil` leaves it out.
        public var window: Duration?
        /// `qu`: the quota unit ("requests", "content-bytes", "concurrent-requests"); `nil` for the default,
        /// requests.
        public var unit: String?

        public init(name: String, quota: Int, window: Duration?, unit: String? = nil) {
            self.name = name
            self.quota = quota
            self.window = window
            self.unit = unit
        }

        /// The policy a token bucket enforces: `q` is the burst and `w` the time a drained bucket takes to fill.
        /// That states both the largest burst (`r` never exceeds `q`) and the sustained rate (`q / w` is
        /// `rate / period`); with the usual `burst == rate` it is exactly "rate per period".
        public init(name: String, quota: RateLimitQuota, unit: String? = nil) {
            self.init(name: name, quota: quota.burst, window: quota.refillTime, unit: unit)
        }
    }

    /// The value of `RateLimit-Policy` for one or more policies.
    public static func policyValue(_ policies: [Policy]) -> String {
        policies.map { policy in
            var item = sfString(policy.name) + ";q=\(clamped(policy.quota))"
            if let unit = policy.unit { item += ";qu=" + sfString(unit) }
            if let window = policy.window { item += ";w=\(max(1, seconds(roundingUp: window)))" }
            return item
        }.joined(separator: ", ")
    }

    /// The value of `RateLimit-Policy` for one policy.
    public static func policyValue(_ policy: Policy) -> String {
        policyValue([policy])
    }

    /// One service limit item of `RateLimit` (draft §4.1): `r` the remaining quota units, `t` the seconds until
    /// more are made available, left out when `reset` is `nil` (a full bucket gets nothing more).
    public static func rateLimitValue(policy name: String, remaining: Int, reset: Duration?) -> String {
        var item = sfString(name) + ";r=\(clamped(remaining))"
        if let reset { item += ";t=\(seconds(roundingUp: reset))" }
        return item
    }

    /// The `RateLimit` value for a decision: `r` its remaining, `t` its ``RateLimitDecision/nextRefill``.
    public static func rateLimitValue(policy name: String, _ decision: RateLimitDecision) -> String {
        rateLimitValue(policy: name, remaining: decision.remaining, reset: decision.nextRefill)
    }

    /// `Retry-After` as delay-seconds: whole seconds rounded up, and at least 1, since a refused client told 0
    /// would ask again at once.
    public static func retryAfterValue(_ delay: Duration) -> String {
        "\(max(1, seconds(roundingUp: delay)))"
    }

    /// The header fields for a decision: `RateLimit-Policy` and `RateLimit` always, `Retry-After` on a refusal
    /// that waiting can cure.
    public static func fields(for decision: RateLimitDecision, policy: Policy) -> [(name: String, value: String)] {
        var fields = [
            (name: policyFieldName, value: policyValue(policy)),
            (name: rateLimitFieldName, value: rateLimitValue(policy: policy.name, decision)),
        ]
        if !decision.allowed, let retryAfter = decision.retryAfter {
            fields.append((name: retryAfterFieldName, value: retryAfterValue(retryAfter)))
        }
        return fields
    }

    /// The fields of one policy with the constant parts made once: `RateLimit-Policy` never changes, and
    /// `RateLimit` differs only in its numbers (a middleware answers every request with them).
    public struct Prepared: Sendable {
        public let policy: Policy
        public let policyValue: String
        private let rateLimitPrefix: String

        public init(_ policy: Policy) {
            self.policy = policy
            self.policyValue = RateLimitHeaders.policyValue(policy)
            self.rateLimitPrefix = sfString(policy.name) + ";r="
        }

        /// What ``RateLimitHeaders/fields(for:policy:)`` gives, with the constant parts reused.
        public func fields(for decision: RateLimitDecision) -> [(name: String, value: String)] {
            var limit = rateLimitPrefix + String(clamped(decision.remaining))
            if let reset = decision.nextRefill { limit += ";t=" + String(seconds(roundingUp: reset)) }
            var fields = [(name: policyFieldName, value: policyValue), (name: rateLimitFieldName, value: limit)]
            if !decision.allowed, let retryAfter = decision.retryAfter {
                fields.append((name: retryAfterFieldName, value: retryAfterValue(retryAfter)))
            }
            return fields
        }
    }

    /// `value` as an sf-string (RFC 9651 §3.3.3): quoted, with `"` and `\` escaped; characters an sf-string cannot
    /// hold (controls, DEL, anything outside ASCII) become `?`. Check names with ``isValidPolicyName(_:)`` when the
    /// configuration is loaded, so that this replacement never happens in practice.
    public static func sfString(_ value: String) -> String {
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar.value {
            case 0x22, 0x5C:
                result.append("\\")
                result.unicodeScalars.append(scalar)
            case 0x20...0x7E:
                result.unicodeScalars.append(scalar)
            default:
                result.append("?")
            }
        }
        return result + "\""
    }

    /// Whether `name` can be written as an sf-string unchanged: non-empty printable ASCII (space to `~`).
    public static func isValidPolicyName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) }
    }

    // MARK: - Numbers

    /// Whole seconds, rounded up; 0 for zero or negative durations; capped at ``maxInteger``.
    static func seconds(roundingUp duration: Duration) -> Int {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        guard seconds < Int64(maxInteger) else { return maxInteger }
        return Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }

    static func clamped(_ value: Int) -> Int {
        min(max(0, value), maxInteger)
    }
}
