extension CircuitBreaker {
    /// When a breaker opens, for how long, and how it probes its way back.
    ///
    /// The defaults follow resilience4j's `CircuitBreakerConfig` where it has one (failure rate threshold 50%,
    /// a minimum number of calls before the rate means anything, a bounded number of permitted calls in
    /// half-open) with a time-based window (resilience4j's `TIME_BASED` sliding window) so that a quiet upstream's
    /// old failures roll off instead of waiting for new requests to push them out. The exponential open period is
    /// resilience4j's `IntervalFunction.ofExponentialBackoff(initial, multiplier, max)` used as
    /// `waitIntervalFunctionInOpenState`.
    ///
    /// Values are checked with preconditions when a breaker is made: the config layer validates user input
    /// first and reports it with its file and line; a breaker built with nonsense is a programming error.
    public struct Configuration: Sendable, Equatable {
        /// The failure ratio (0...1) over the window at or above which a closed breaker opens.
        public var failureRatio: Double
        /// Fewer outcomes than this in the window never open the breaker: 1 failure out of 1 is not a ratio.
        public var minimumRequests: Int
        /// How far back outcomes count.
        public var window: Duration
        /// How many time buckets the window is cut into; outcomes roll off a bucket at a time, so the window
        /// really covers between `window - window / windowBuckets` and `window`.
        public var windowBuckets: Int
        /// The first open period.
        public var openBase: Duration
        /// Each open period that follows another without a long enough closed spell in between is this many
        /// times the previous one.
        public var openMultiplier: Double
        /// No open period is longer than this.
        public var openMax: Duration
        /// Once the breaker has stayed closed this long, the next opening starts from `openBase` again. Closing
        /// alone does not reset the backoff: an upstream that passes its probes and falls over again at once
        /// would otherwise be hammered every `openBase`.
        public var backoffResetAfter: Duration
        /// Probes in flight at once in half-open.
        public var maxProbes: Int
        /// Probe successes that close the breaker; `nil` means `maxProbes`.
        public var successesToClose: Int?
        /// The Retry-After given to requests refused in half-open because every probe slot is taken: a probe
        /// finishes in about a request's time, after which the breaker is closed or a slot is free.
        public var probeRetryAfter: Duration

        public init(
            failureRatio: Double = 0.5,
            minimumRequests: Int = 20,
            window: Duration = .seconds(10),
            windowBuckets: Int = 10,
            openBase: Duration = .seconds(5),
            openMultiplier: Double = 2,
            openMax: Duration = .seconds(60),
            backoffResetAfter: Duration = .seconds(60),
            maxProbes: Int = 3,
            successesToClose: Int? = nil,
            probeRetryAfter: Duration = .seconds(1)
        ) {
            self.failureRatio = failureRatio
            self.minimumRequests = minimumRequests
            self.window = window
            self.windowBuckets = windowBuckets
            self.openBase = openBase
            self.openMultiplier = openMultiplier
            self.openMax = openMax
            self.backoffResetAfter = backoffResetAfter
            self.maxProbes = maxProbes
            self.successesToClose = successesToClose
            self.probeRetryAfter = probeRetryAfter
        }

        /// Probe successes needed to close.
        public var probesToClose: Int { successesToClose ?? maxProbes }

        /// The width of one window bucket.
        var bucketWidth: Duration { window / windowBuckets }

        /// The open period that follows `previous` (or the first one, if there was none or the backoff was reset).
        public func openPeriod(after previous: Duration?) -> Duration {
            guard let previous else { return min(openBase, openMax) }
            return min(previous * openMultiplier, openMax)
        }

        func validate() {
            precondition(failureRatio > 0 && failureRatio <= 1, "failureRatio must be in (0, 1]")
            precondition(minimumRequests >= 1, "minimumRequests must be at least 1")
            precondition(window > .zero && windowBuckets >= 1, "the window needs a positive length and a bucket")
            precondition(openBase > .zero && openMax >= openBase, "open periods need 0 < openBase <= openMax")
            precondition(openMultiplier >= 1, "openMultiplier below 1 would shorten the backoff")
            precondition(maxProbes >= 1, "half-open needs at least one probe")
            precondition(probesToClose >= 1, "successesToClose must be at least 1")
            precondition(probeRetryAfter >= .zero, "probeRetryAfter must not be negative")
        }
    }
}
