import Testing

@testable import MeridianProxy

/// The retry decision, rule by rule: tries left, the failure kind, and whether a second try is safe.
@Suite struct RetryPolicyTests {
    static let policy = RetryPolicy()

    static func decide(
        _ method: String, _ failure: RetryPolicy.TryFailure, sent: Bool = true, replayable: Bool = true,
        attempt: Int = 1, policy: RetryPolicy = policy
    ) -> RetryPolicy.Decision {
        policy.decide(method: method, failure: failure, requestSent: sent, bodyReplayable: replayable, attempt: attempt)
    }

    @Test func aConnectFailureIsAlwaysSafe() {
        #expect(Self.decide("POST", .connectFailure, sent: false, replayable: false) == .retry)
        #expect(Self.decide("PATCH", .connectFailure, sent: true, replayable: false) == .retry, "nothing was sent")
    }

    @Test func anythingNotSentIsSafe() {
        #expect(Self.decide("POST", .reset, sent: false) == .retry)
        #expect(Self.decide("POST", .status(503), sent: false) == .retry)
    }

    @Test(arguments: ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"])
    func idempotentMethodsAreRetriedAfterBeingSent(method: String) {
        #expect(Self.decide(method, .reset) == .retry)
        #expect(Self.decide(method, .timeout) == .retry)
        #expect(Self.decide(method, .status(502)) == .retry)
    }

    @Test(arguments: ["POST", "PATCH", "CONNECT", "get"])
    func otherMethodsAreNotRetriedOnceSent(method: String) {
        #expect(Self.decide(method, .reset) == .stop(reason: "\(method) is not idempotent and the request was sent"))
        #expect(Self.decide(method, .status(503), replayable: true) != .retry)
    }

    @Test func aBodyThatCannotBeReplayedStopsAnIdempotentRetry() {
        #expect(Self.decide("PUT", .reset, replayable: false) == .stop(reason: "the request body cannot be replayed"))
        #expect(Self.decide("PUT", .reset, replayable: true) == .retry)
        #expect(Self.decide("PUT", .reset, sent: false, replayable: false) == .retry, "not sent: body untouched")
    }

    @Test func triesRunOut() {
        #expect(Self.decide("GET", .reset, attempt: 1) == .retry)
        #expect(Self.decide("GET", .reset, attempt: 2) == .retry)
        #expect(Self.decide("GET", .reset, attempt: 3) == .stop(reason: "no retries left (2 allowed)"))
        #expect(Self.decide("GET", .connectFailure, attempt: 3) != .retry, "even the safest failure")
        let none = RetryPolicy(maxRetries: 0)
        let decision = Self.decide("GET", .connectFailure, attempt: 1, policy: none)
        #expect(decision == .stop(reason: "no retries left (0 allowed)"))
    }

    @Test func onlyFailuresInRetryOnAreRetried() {
        #expect(Self.decide("GET", .status(500)) == .stop(reason: "status 500 is not in retry_on"), "not by default")
        #expect(Self.decide("GET", .status(404)) != .retry)
        for status in [502, 503, 504] { #expect(Self.decide("GET", .status(status)) == .retry) }

        let serverErrors = RetryPolicy(retryOn: [.serverError])
        #expect(Self.decide("GET", .status(500), policy: serverErrors) == .retry)
        #expect(Self.decide("GET", .status(599), policy: serverErrors) == .retry)
        #expect(Self.decide("GET", .reset, policy: serverErrors) == .stop(reason: "reset is not in retry_on"))
        #expect(Self.decide("GET", .timeout, policy: serverErrors) == .stop(reason: "timeout is not in retry_on"))
        #expect(Self.decide("GET", .connectFailure, policy: serverErrors) != .retry, "safe is not enough")

        let listed = RetryPolicy(retryOn: [.retriableStatusCodes], retriableStatuses: [409, 429])
        #expect(Self.decide("GET", .status(409), policy: listed) == .retry)
        #expect(Self.decide("GET", .status(503), policy: listed) != .retry)
        let unlisted = RetryPolicy(retryOn: [.connectFailure], retriableStatuses: [409])
        #expect(Self.decide("GET", .status(409), policy: unlisted) != .retry, "the list needs its condition")
    }

    @Test func conditionsHaveTheirConfigNames() {
        #expect(RetryPolicy.Condition(rawValue: "gateway_error") == .gatewayError)
        #expect(RetryPolicy.Condition(rawValue: "5xx") == .serverError)
        let names = RetryPolicy.Condition.allCases.map(\.rawValue).sorted()
        #expect(names == ["5xx", "connect_failure", "gateway_error", "reset", "retriable_status_codes", "timeout"])
    }
}

/// Envoy's retry budget as plain counters.
@Suite struct RetryBudgetTests {
    static func budget(active: Int) -> RetryBudget {
        var budget = RetryBudget()
        for _ in 0..<active { budget.requestStarted() }
        return budget
    }

    @Test func tenActiveRequestsGetTheMinimumOfThree() {
        var budget = Self.budget(active: 10)
        #expect(budget.limit == 3)
        for _ in 0..<3 { #expect(budget.retryStarted() == true) }
        #expect(!budget.canRetry())
        #expect(budget.retryStarted() == false)
        #expect(budget.exhaustedCount == 1)
        budget.retryFinished()
        #expect(budget.canRetry())
    }

    @Test func aHundredActiveRequestsGetTwenty() {
        var budget = Self.budget(active: 100)
        for _ in 0..<20 { #expect(budget.retryStarted() == true) }
        #expect(budget.retryStarted() == false)
        #expect(budget.retryStarted() == false)
        #expect(budget.exhaustedCount == 2)
        #expect(budget.activeRetries == 20)
    }

    @Test func theLimitFollowsActiveRequests() {
        var budget = Self.budget(active: 100)
        for _ in 0..<20 { _ = budget.retryStarted() }
        for _ in 0..<50 { budget.requestFinished() }
        #expect(budget.limit == 10)
        #expect(!budget.canRetry(), "20 in flight, 10 allowed now")
        #expect(Self.budget(active: 0).limit == 3, "an idle cluster may still retry")
        #expect(Self.budget(active: 24).limit == 4, "20% of 24, rounded down")
    }

    @Test func unmatchedFinishesDoNotGoNegative() {
        var budget = RetryBudget(.init(budgetPercent: 20, minRetryConcurrency: 0))
        budget.requestFinished()
        budget.retryFinished()
        #expect(budget.activeRequests == 0 && budget.activeRetries == 0)
        #expect(!budget.canRetry(), "no minimum and nothing active: no retries")
    }
}
