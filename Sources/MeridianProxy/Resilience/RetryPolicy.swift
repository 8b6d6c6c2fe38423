/// Whether a failed try of a request is tried again: only when tries remain, the failure is of a kind the route
/// retries, and trying again cannot do something twice that the client asked for once.
///
/// The conditions are Envoy's `retry_on` (`x-envoy-retry-on`: `connect-failure`, `reset`, `5xx`, `gateway-error`,
/// `retriable-status-codes`, and a per-try timeout); the safety rule is RFC 9110 §9.2.2: a client (and so a proxy
/// acting for it) may repeat a request automatically only if its method is idempotent, or if it knows the request
/// never reached the server. Pure; the retry budget (``RetryBudget``) is asked separately, after a `.retry`.
public struct RetryPolicy: Sendable, Equatable {
    /// A kind of failure the route retries, by its config name.
    public enum Condition: String, Sendable, Hashable, CaseIterable {
        /// The connection to the upstream could not be made.
        case connectFailure = "connect_failure"
        /// The connection failed after it was made, with no response (a reset, an early close).
        case reset
        /// The try's own timeout (``perTryTimeout``) passed.
        case timeout
        /// Any 5xx response.
        case serverError = "5xx"
        /// 502, 503 or 504.
        case gatewayError = "gateway_error"
        /// A status listed in ``retriableStatuses``.
        case retriableStatusCodes = "retriable_status_codes"
    }

    /// How a try failed.
    public enum TryFailure: Sendable, Equatable {
        case connectFailure
        case reset
        case timeout
        case status(Int)
    }

    public enum Decision: Sendable, Equatable {
        case retry
        case stop(reason: String)
    }

    /// Retries after the first try: 2 means at most three tries.
    public var maxRetries: Int
    /// The failures that are retried. The default leaves out 5xx other than the gateway errors: a 500 usually
    /// says something about the request, not about which endpoint answered it.
    public var retryOn: Set<Condition>
    /// The statuses `retriable_status_codes` retries.
    public var retriableStatuses: Set<Int>
    /// The timeout of one try, `nil` for none (the request's own timeout still applies).
    public var perTryTimeout: Duration?

    public init(
        maxRetries: Int = 2,
        retryOn: Set<Condition> = [.connectFailure, .reset, .timeout, .gatewayError],
        retriableStatuses: Set<Int> = [],
        perTryTimeout: Duration? = nil
    ) {
        precondition(maxRetries >= 0, "maxRetries cannot be negative")
        self.maxRetries = maxRetries
        self.retryOn = retryOn
        self.retriableStatuses = retriableStatuses
        self.perTryTimeout = perTryTimeout
    }

    /// Idempotent methods, RFC 9110 §9.2.2: the safe methods (§9.2.1) plus PUT and DELETE. Compared exactly:
    /// method names are case-sensitive (RFC 9110 §9.1).
    static let idempotentMethods: Set<String> = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]

    /// Decides about the try that just failed.
    ///
    /// - Parameters:
    ///   - method: the request's method.
    ///   - failure: how the try failed.
    ///   - requestSent: whether any of the request reached the upstream (was written to the connection). A connect
    ///     failure sends nothing, whatever this says.
    ///   - bodyReplayable: whether the body can be sent again: there is none, or all of it is still in the replay
    ///     buffer.
    ///   - attempt: the tries made so far, counting the one that failed (1 after the first try).
    public func decide(
        method: String,
        failure: TryFailure,
        requestSent: Bool,
        bodyReplayable: Bool,
        attempt: Int
    ) -> Decision {
        guard attempt - 1 < maxRetries else {
            return .stop(reason: "no retries left (\(maxRetries) allowed)")
        }
        guard let condition = matchingCondition(failure) else {
            return .stop(reason: "\(Self.describe(failure)) is not in retry_on")
        }
        // Nothing reached the upstream: it cannot have acted on the request, so any method may go again.
        if condition == .connectFailure || !requestSent {
            return .retry
        }
        guard Self.idempotentMethods.contains(method) else {
            return .stop(reason: "\(method) is not idempotent and the request was sent")
        }
        guard bodyReplayable else {
            return .stop(reason: "the request body cannot be replayed")
        }
        return .retry
    }

    /// The `retry_on` condition that covers `failure`, if any.
    func matchingCondition(_ failure: TryFailure) -> Condition? {
        switch failure {
        case .connectFailure:
            return retryOn.contains(.connectFailure) ? .connectFailure : nil
        case .reset:
            return retryOn.contains(.reset) ? .reset : nil
        case .timeout:
            return retryOn.contains(.timeout) ? .timeout : nil
        case .status(let status):
            if retryOn.contains(.serverError), (500...599).contains(status) { return .serverError }
            if retryOn.contains(.gatewayError), [502, 503, 504].contains(status) { return .gatewayError }
            if retryOn.contains(.retriableStatusCodes), retriableStatuses.contains(status) {
                return .retriableStatusCodes
            }
            return nil
        }
    }

    static func describe(_ failure: TryFailure) -> String {
        switch failure {
        case .connectFailure: return "connect_failure"
        case .reset: return "reset"
        case .timeout: return "timeout"
        case .status(let status): return "status \(status)"
        }
    }
}
