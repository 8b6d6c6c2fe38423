internal import Logging
internal import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// One proxied request, on the downstream connection's event loop from start to end: picks an
/// endpoint, borrows a pooled connection, sends the head and streams the body (keeping a replay
/// copy while it is small), waits for the response head within the timeouts, retries when that is
/// safe and the budget allows, and streams the response back with backpressure. Every outcome goes
/// to the cluster's breaker and outlier detector. Confined to its event loop: every callback it
/// registers runs there (futures of that loop), which is what makes the unchecked `Sendable` safe.
final class ProxyExchange: @unchecked Sendable {
    let request: Request
    let context: RequestContext
    let route: ProxyResponder
    let loop: ClusterLoop
    var eventLoop: any EventLoop { loop.eventLoop }
    /// The loop's clock (``LoopClock``), read a few times per try.
    var clock: LoopClock { loop.clock }
    /// Who waits for the answer (the request layer registers through ``ResponseSlot``), and an answer given before
    /// anyone registered (``start()`` may answer at once). Both dropped once used: the response's body stream refers
    /// back to this exchange, and keeping either would make that a cycle.
    private var receiver: ((Result<Response, any Error>) -> Void)?
    private var early: Result<Response, any Error>?
    let hash: UInt64?
    /// The target sent upstream (path rewritten, query kept): the same for every try.
    private(set) lazy var target = route.rewriter.target(for: request)

    // The try in progress.
    var tried = TriedEndpoints()
    /// Numbers the tries: a connection that arrives for a try already given up is handed back.
    var attemptID = 0
    var connection: UpstreamConnection?
    var endpoint = -1
    var probe = false
    /// Whether the try's breaker or outlier outcome has been reported.
    var outcomeRecorded = true
    /// Whether any of this try's request reached the connection.
    var requestSent = false
    // (Set when each try starts, and when its head goes; one clock read at creation for all three.)
    var tryStarted: NIODeadline
    var headSentAt: NIODeadline
    /// The response's idle timer (a streamed body).
    var timer: Scheduled<Void>?
    /// The try's head timeout in the loop's ``ExchangeTimeouts``, and which one it is.
    var headTimeout: ExchangeTimeouts.Handle?
    var headTimeoutKind = HeadTimeout.firstByte
    var totalTimer: Scheduled<Void>?
    var retriesStarted = 0
    /// The status of the try's response head, for the observer.
    var lastStatus: UInt?
    /// The balancer was told this try started and not yet that it finished.
    var balancerOpen = false
    /// Time to the response head of the try that answered, for the balancer's latency view.
    var headLatency: Duration?
    /// The observer's token of the try in progress (its CLIENT span).
    var attemptToken: UpstreamAttemptToken?

    // The request body.
    var body = BodyPump()

    // The response.
    var responded = false
    var responseHead: HTTPResponseHead?
    var sink: BodyStream.Write?
    var produced: EventLoopPromise<Void>?
    /// Body pieces that arrived before the request layer attached (an array: nothing is allocated while empty).
    var pendingPieces: [ByteBuffer] = []
    var unacknowledged = 0
    var responseEnded = false
    var lastResponseActivity: NIODeadline
    /// A small body being gathered to go with its head in one write, and that head.
    var gathered: ByteBuffer?
    var gatheredResponse: Response?
    /// How many bytes at the front of `gathered` are the response's encoded fields (nil: `gathered` is all body).
    var gatheredFields: Int?
    /// The upstream's trailer fields, passed on after the body (gRPC status).
    var responseTrailers: HTTPHeaders?

    var finished = false
    var failureCode: String?

    init(request: Request, context: RequestContext, route: ProxyResponder, loop: ClusterLoop, hash: UInt64?) {
        self.request = request
        self.context = context
        self.route = route
        self.loop = loop
        self.hash = hash
        let now = loop.clock.deadline
        self.tryStarted = now
        self.headSentAt = now
        self.lastResponseActivity = now
    }

    var health: ClusterHealth { loop.health }

    /// Starts the first try; the answer comes through ``whenAnswered(_:)``.
    func start() {
        let admitted = health.state.withLockedValue { s -> Bool in
            guard s.active < health.maxActive else { return false }
            s.active += 1
            s.budget.requestStarted()
            return true
        }
        guard admitted else {
            finished = true
            failureCode = "overloaded"
            annotate()
            answer(Self.errorResponse(.serviceUnavailable, "max_active"))
            return
        }
        context.clientGone.whenGone { [self] reason in clientGone(reason) }
        if let total = route.cluster.config.timeouts.total {
            totalTimer = eventLoop.scheduleTask(in: TimeAmount(total)) { [self] in
                fail(ProxyFailure(.totalTimeout, "the exchange took longer than \(total)"))
            }
        }
        nextTry()
    }

    // MARK: - Tries

    func nextTry() {
        guard !finished else { return }
        let now = clock.instant
        var pick = loop.pick(hash: hash, excluding: tried, at: now, of: route.cluster)
        if pick == .noHealthyEndpoint, !tried.isEmpty {
            // No other endpoint: the retry may go to one already tried, on a new connection (a
            // one-endpoint cluster, or a pooled connection the upstream had just closed).
            pick = loop.pick(hash: hash, excluding: .none, at: now, of: route.cluster)
        }
        switch pick {
        case .noHealthyEndpoint:
            let why = tried.isEmpty ? "no healthy endpoint in cluster \(route.cluster.name)" : "no other healthy endpoint to retry on"
            finish(with: Self.errorResponse(.serviceUnavailable, why), code: tried.isEmpty ? "no_healthy_upstream" : failureCode)
            return
        case .breakersOpen(let wait):
            var response = Self.errorResponse(.serviceUnavailable, "circuit breaker open")
            let seconds = max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
            response.headers.add(name: "retry-after", value: String(seconds))
            finish(with: response, code: tried.isEmpty ? "breaker_open" : failureCode)
            return
        case .endpoint(let i, let probe, let halfOpened):
            if halfOpened {
                let key = route.cluster.endpointKeys[i]
                route.observer?.event(.breaker(cluster: route.cluster.name, endpoint: key, from: "open", to: "half_open"))
                context.logger.notice(
                    "circuit breaker open -> half_open", metadata: ["cluster": "\(route.cluster.name)", "endpoint": "\(key)"]
                )
            }
            tried.append(i)
            endpoint = i
            self.probe = probe
            loop.balancer.started(i)
            loop.stats[i].activeRequests.wrappingIncrement(ordering: .relaxed)
            balancerOpen = true
            headLatency = nil
        }
        // The first try starts as the exchange is made (same call, microseconds apart): its clock read serves.
        if attemptID > 0 { tryStarted = clock.deadline }
        if let observer = route.observer {
            let cluster = route.cluster
            let i = self.endpoint
            attemptToken = observer.tryStarted(
                trace: request.trace, endpointState: loop.observerState(observer, endpoint: i, cluster: cluster.name, key: cluster.endpointKeys[i]),
                at: tryStarted
            ) {
                let endpoint = cluster.config.endpoints[i]
                return UpstreamAttempt(
                    cluster: cluster.name, endpoint: cluster.endpointKeys[i], serverAddress: endpoint.host, serverPort: endpoint.port,
                    resendCount: tried.count - 1, method: request.method.rawValue, target: target, trace: request.trace,
                    route: context.route
                )
            }
        }
        outcomeRecorded = false
        requestSent = false
        attemptID += 1
        let id = attemptID
        let pool = loop.pools[endpoint]
        // Every connection to the endpoint busy: the request waits for one, within max_pending.
        let queued = pool.wouldQueue
        if queued {
            let admitted = health.state.withLockedValue { s -> Bool in
                guard s.pending < health.maxPending else { return false }
                s.pending += 1
                return true
            }
            guard admitted else {
                abandonOutcome()  // the endpoint did nothing wrong
                failureCode = "overloaded"
                finish(with: Self.errorResponse(.serviceUnavailable, "max_pending"), code: "overloaded")
                return
            }
        }
        armTryTimer()
        if !queued, let connection = pool.takeIdle() {
            self.connection = connection
            connected(at: tryStarted)
            return
        }
        pool.acquire().whenComplete { [self] result in
            if queued { health.state.withLockedValue { $0.pending -= 1 } }
            switch result {
            case .failure(let error):
                guard id == attemptID else { return }
                let failure = error as? ProxyFailure ?? ProxyFailure(.connectFailure, "\(error)")
                tryFailed(failure)
            case .success(let connection):
                guard !finished, id == attemptID, responseHead == nil else {
                    loop.pools[connection.endpoint].release(connection)
                    return
                }
                self.connection = connection
                connected(at: clock.deadline)
            }
        }
    }

    private func connected(at now: NIODeadline) {
        guard let connection else { return }
        context.annotate(UpstreamConnectAnnotation.self, Self.milliseconds(from: tryStarted, to: now))
        let endpointKey = route.cluster.endpointKeys[endpoint]
        let traceparent = attemptToken?.traceparent ?? request.trace?.traceparent()
        headSentAt = now
        requestSent = true
        if connection.takesEncodedHeads, let encoded = route.rewriter.encodedUpstreamHead(
            for: request, target: target, endpoint: endpointKey, traceparent: traceparent, allocator: context.allocator
        ) {
            connection.send(encodedHead: encoded.bytes, isHEAD: encoded.isHEAD, chunked: encoded.chunked, delegate: self)
        } else {
            let head = route.rewriter.upstreamHead(for: request, target: target, endpoint: endpointKey, traceparent: traceparent)
            connection.send(head, delegate: self)
        }
        startSendingBody()
    }

    /// The per-try timeout (from the try's start to its response head) or, until the request has
    /// been sent, the connect timeout is the pool's; first_byte starts once the request is sent.
    func armTryTimer() {
        cancelTimers()
        guard let perTry = route.retryPolicy.perTryTimeout else { return }
        armHeadTimer(.perTry, perTry)
    }

    /// `now` when the caller has it (a request without a body is sent with its head).
    func requestFullySent(at now: NIODeadline? = nil) {
        guard responseHead == nil else { return }
        let firstByte = route.cluster.config.timeouts.firstByte
        if let perTry = route.retryPolicy.perTryTimeout, perTry <= firstByte { return }
        armHeadTimer(.firstByte, firstByte, now: now ?? clock.deadline)
    }

    enum HeadTimeout { case perTry, firstByte }

    /// A timeout for the response head; it also guards a small body being gathered after it (see
    /// upstreamHead), so such a response needs no second timer.
    private func armHeadTimer(_ kind: HeadTimeout, _ after: Duration, now: NIODeadline? = nil) {
        cancelTimers()
        headTimeoutKind = kind
        headTimeout = loop.timeouts.arm(self, after: TimeAmount(after), now: now ?? clock.deadline)
    }

    /// The head timeout passed (``ExchangeTimeouts`` calls this on the event loop).
    func headTimeoutFired() {
        headTimeout = nil
        guard responseHead == nil else {
            if gatheredResponse != nil { abortResponse(ProxyFailure(.idleTimeout, "the response body stalled")) }
            return
        }
        connection?.close()
        let reason: String
        switch headTimeoutKind {
        case .perTry: reason = "no response within the per-try timeout of \(route.retryPolicy.perTryTimeout ?? .zero)"
        case .firstByte: reason = "no response within first_byte of \(route.cluster.config.timeouts.firstByte)"
        }
        tryFailed(ProxyFailure(.firstByteTimeout, reason))
    }

    /// Stops the try's head timeout and the response's idle timer.
    func cancelTimers() {
        timer?.cancel()
        timer = nil
        if let headTimeout {
            self.headTimeout = nil
            loop.timeouts.cancel(headTimeout)
        }
    }

    /// A try ended without a usable response: report it, then retry or answer.
    func tryFailed(_ failure: ProxyFailure) {
        guard !finished, responseHead == nil else { return }
        cancelTimers()
        if let c = connection {
            connection = nil
            c.close()
            loop.pools[c.endpoint].release(c)
        }
        record(failure.kind == .invalidResponse ? .serverError : .gatewayFailure)
        lastStatus = nil
        balancerFinished(error: failure.code)
        let kind: RetryPolicy.TryFailure
        switch failure.kind {
        case .connectFailure: kind = .connectFailure
        case .connectTimeout: kind = requestSent ? .timeout : .connectFailure
        case .firstByteTimeout, .idleTimeout, .totalTimeout: kind = .timeout
        case .reset, .invalidResponse: kind = .reset
        }
        failureCode = failure.code
        context.logger.warning(
            "upstream try failed",
            metadata: [
                "request.id": "\(request.id)", "cluster": "\(route.cluster.name)", "endpoint": "\(route.cluster.endpointKeys[endpoint])",
                "reason": "\(failure)",
            ]
        )
        if failure.kind != .totalTimeout, retry(after: kind) { return }
        finish(with: Self.errorResponse(failure.status, failure.code), code: failure.code)
    }

    /// Starts the next try when the policy, the body and the budget allow it.
    func retry(after failure: RetryPolicy.TryFailure) -> Bool {
        let decision = route.retryPolicy.decide(
            method: request.method.rawValue, failure: failure, requestSent: requestSent && failure != .connectFailure,
            bodyReplayable: body.replayable, attempt: tried.count
        )
        guard case .retry = decision else { return false }
        let allowed = health.state.withLockedValue { $0.budget.retryStarted() }
        guard allowed else {
            context.logger.notice("retry budget exhausted", metadata: ["cluster": "\(route.cluster.name)"])
            route.observer?.event(.retryBudgetExhausted(cluster: route.cluster.name))
            return false
        }
        route.observer?.event(.retry(cluster: route.cluster.name))
        retriesStarted += 1
        nextTry()
        return true
    }

    // MARK: - Outcomes

    /// Tells the breaker and the outlier detector how the try went (once per try).
    func record(_ result: OutlierDetector<MonotonicClock>.Result) {
        guard !outcomeRecorded, endpoint >= 0 else { return }
        outcomeRecorded = true
        let now = clock.instant
        let endpoint = self.endpoint
        let (transition, ejection, shared) = health.state.withLockedValue { s in
            var transition: CircuitBreaker<MonotonicClock>.Transition?
            // A probe's verdict counts across the cluster only while its breaker is still half-open here (one that
            // reopened meanwhile dropped it, and so does the cluster).
            let shared = s.sharedOpened[endpoint] && s.breakers[endpoint].state == .halfOpen
            if s.breakersEnabled {
                transition = s.breakers[endpoint].record(result == .success ? .success : .failure, probe: probe, at: now)
                if transition?.to == .closed { s.sharedOpened[endpoint] = false }
            }
            let ejection = s.outliersEnabled ? s.outliers.record(endpoint, result, at: now) : nil
            return (transition, ejection, shared)
        }
        if let sharing = loop.sharing {
            let id = SharedBreakerID(cluster: route.cluster, endpoint: endpoint)
            sharing.record(id, failed: result != .success, on: eventLoop)
            if probe, shared, sharing.isActive { sharing.probeResult(id, success: result == .success) }
        }
        let logger = context.logger
        let key = route.cluster.endpointKeys[endpoint]
        if let transition {
            route.observer?.event(.breaker(cluster: route.cluster.name, endpoint: key, from: transition.from.rawValue, to: transition.to.rawValue))
            logger.warning(
                "circuit breaker \(transition.from.rawValue) -> \(transition.to.rawValue)",
                metadata: ["cluster": "\(route.cluster.name)", "endpoint": "\(key)", "reason": "\(transition.reason)"]
            )
        }
        if let ejection {
            route.observer?.event(.ejected(cluster: route.cluster.name, endpoint: key))
            logger.warning(
                "upstream endpoint ejected",
                metadata: ["cluster": "\(route.cluster.name)", "endpoint": "\(key)", "reason": "\(ejection.reason)", "count": "\(ejection.count)"]
            )
        }
    }

    /// Tells the balancer the try is over (least_request counts it out, p2c_ewma learns its latency),
    /// and the observer how it ended.
    func balancerFinished(error: String? = nil) {
        guard balancerOpen else { return }
        balancerOpen = false
        loop.balancer.finished(endpoint, latency: headLatency, now: clock.instant.offset)
        loop.stats[endpoint].activeRequests.wrappingDecrement(ordering: .relaxed)
        if let observer = route.observer, let token = attemptToken.take() {  // (moved out, not copied)
            observer.tryFinished(token, status: lastStatus.map { Int($0) }, error: error ?? failureCode, at: clock.deadline)
        }
    }


    /// The try was abandoned without an outcome (the client left): a probe's slot is freed.
    func abandonOutcome() {
        guard !outcomeRecorded, endpoint >= 0 else { return }
        outcomeRecorded = true
        guard probe else { return }
        let endpoint = self.endpoint
        health.state.withLockedValue { s in
            s.breakers[endpoint].probeAbandoned()
            // A cluster-wide token taken for this probe goes back to this instance's hand for the next one.
            if s.sharedOpened[endpoint], s.breakers[endpoint].state == .halfOpen { s.probePermits[endpoint] += 1 }
        }
    }

    // MARK: - Ending

    /// Answers with `response` (an error the proxy makes itself) when nothing was answered yet.
    func finish(with response: Response, code: String?) {
        guard !finished else { return }
        failureCode = code
        // The record is taken when the response completes, which succeeding the promise may do at
        // once: what goes into it (annotations, the try's end) comes first.
        end()
        answer(response)
    }

    /// The exchange is over: counters back, timers off, the record annotated.
    func end() {
        guard !finished else { return }
        finished = true
        cancelTimers()
        totalTimer?.cancel()
        balancerFinished()
        let retries = retriesStarted
        health.state.withLockedValue { s in
            s.active -= 1
            s.budget.requestFinished()
            for _ in 0..<retries { s.budget.retryFinished() }
        }
        annotate()
    }

    func annotate() {
        context.annotate(UpstreamClusterAnnotation.self, route.cluster.name)
        if endpoint >= 0 { context.annotate(UpstreamAddressAnnotation.self, route.cluster.endpointKeys[endpoint]) }
        if let status = responseHead?.status.code { context.annotate(UpstreamStatusAnnotation.self, Int(status)) }
        if !tried.isEmpty { context.annotate(UpstreamTriesAnnotation.self, tried.count) }
        if let failureCode { context.annotate(UpstreamErrorAnnotation.self, failureCode) }
    }

    func clientGone(_ reason: String) {
        guard !finished else { return }
        if let c = connection {
            connection = nil
            if !responseEnded {
                c.close()
                abandonOutcome()
            }
            loop.pools[c.endpoint].release(c)
        } else {
            abandonOutcome()
        }
        produced?.fail(ChannelError.ioOnClosedChannel)
        produced = nil
        answer(failure: ClientGoneError(reason: reason))
        end()
    }

    /// Answers the request layer once (later calls do nothing).
    func answer(_ response: Response) { deliver(.success(response)) }

    func answer(failure: any Error) { deliver(.failure(failure)) }

    private func deliver(_ result: Result<Response, any Error>) {
        guard !responded else { return }
        responded = true
        if let receiver {
            self.receiver = nil
            receiver(result)
        } else {
            early = result
        }
    }

    static func errorResponse(_ status: HTTPResponseStatus, _ reason: String) -> Response {
        Response.text(status, "\(status.code) \(status.reasonPhrase)\n")
    }

    static func milliseconds(since start: NIODeadline) -> Double {
        milliseconds(from: start, to: .now())
    }

    static func milliseconds(from start: NIODeadline, to end: NIODeadline) -> Double {
        Double((end - start).nanoseconds) / 1e6
    }
}

extension ProxyExchange: ResponseSlot {
    /// The request layer (or a middleware through ``ResponseFuture/future(on:)``) waits here for the answer.
    func whenAnswered(_ receiver: @escaping (Result<Response, any Error>) -> Void) {
        if let early {
            self.early = nil
            receiver(early)
        } else {
            self.receiver = receiver
        }
    }
}

/// The client went away before the upstream answered.
struct ClientGoneError: Error, CustomStringConvertible {
    var reason: String
    var description: String { "client gone: \(reason)" }
}
