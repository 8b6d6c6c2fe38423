/// How many retries may be in flight to a cluster at once, in proportion to its active requests, so that retries
/// cannot multiply the load on an upstream that is already failing (a retry storm).
///
/// Envoy's `CircuitBreakers.Thresholds.RetryBudget`: "the limit on concurrent retries as a percentage of the sum
/// of active requests and active pending requests" (`budget_percent`, default 20%), which "may never go below"
/// `min_retry_concurrency` (default 3), so a quiet cluster can still retry.
///
/// Pure counters, one budget per cluster per event loop (as Envoy keeps its per worker). Active requests are
/// client requests to the cluster; a retry is an extra try of one of them and is counted among the retries only.
public struct RetryBudget: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// `budget_percent`: retries in flight may be this percentage of active requests.
        public var budgetPercent: Double
        /// `min_retry_concurrency`: retries in flight always allowed, whatever the percentage gives.
        public var minRetryConcurrency: Int

        public init(budgetPercent: Double = 20, minRetryConcurrency: Int = 3) {
            precondition(budgetPercent >= 0 && minRetryConcurrency >= 0, "a retry budget cannot be negative")
            self.budgetPercent = budgetPercent
            self.minRetryConcurrency = minRetryConcurrency
        }
    }

    public let configuration: Configuration
    public private(set) var activeRequests = 0
    public private(set) var activeRetries = 0
    /// Retries refused because the budget was spent (for a metric, like Envoy's `upstream_rq_retry_overflow`).
    public private(set) var exhaustedCount = 0

    public init(_ configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Retries that may be in flight now.
    public var limit: Int {
        let proportional = Int((Double(activeRequests) * configuration.budgetPercent / 100).rounded(.down))
        return max(configuration.minRetryConcurrency, proportional)
    }

    public mutating func requestStarted() {
        activeRequests += 1
    }

    /// Unmatched calls are ignored rather than trusted: a negative count would grant retries forever.
    public mutating func requestFinished() {
        if activeRequests > 0 { activeRequests -= 1 }
    }

    public func canRetry() -> Bool {
        activeRetries < limit
    }

    /// Takes a retry from the budget; false, counted in ``exhaustedCount``, when it is spent.
    public mutating func retryStarted() -> Bool {
        guard canRetry() else {
            exhaustedCount += 1
            return false
        }
        activeRetries += 1
        return true
    }

    public mutating func retryFinished() {
        if activeRetries > 0 { activeRetries -= 1 }
    }
}
