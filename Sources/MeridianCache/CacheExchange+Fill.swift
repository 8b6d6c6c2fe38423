internal import MeridianCore
internal import NIOCore
internal import NIOHTTP1

/// Coalescing: one origin request per key per instance (``FillCoordinator``), and per cluster (the Redis lock).
extension CacheExchange {
    /// A miss: one request per key goes on (to the cluster lock, then the origin); the others wait for it.
    func coalesce() -> EventLoopFuture<Response> {
        if CacheControl(request.fields).onlyIfCached {
            return loop.makeSucceededFuture(CacheAnswer.gatewayTimeout(statuses: statuses))
        }
        guard !request.isHead else { return fetch(stale: nil, storing: false) }
        return coalesced { [self] in lockThenFetch() }
    }

    /// Runs `leader` for the first request of this key; the requests that arrive meanwhile wait for it, then look
    /// in L1 again (a revalidation of a hot stale entry is one origin request, as a miss is).
    func coalesced(_ leader: @escaping () -> EventLoopFuture<Response>) -> EventLoopFuture<Response> {
        guard rules.coalesce else { return leader() }
        let wait = TimeAmount.nanoseconds(max(0, Int64(deadline.uptimeNanoseconds) - Int64(NIODeadline.now().uptimeNanoseconds)))
        switch cache.fills.join(variantKey, on: loop, wait: wait) {
        case .leader:
            leading = variantKey
            return leader()
        case .follower(let done):
            collapsed = true
            cache.stats.collapsed.add()
            return done.flatMap { [self] in afterWaiting() }
        }
    }

    /// The fill this request waited for is done (or the wait ran out): look in L1 again; else to the origin, alone.
    private func afterWaiting() -> EventLoopFuture<Response> {
        let now = cache.clock()
        let l1 = L1Lookup(cache.memory, primary: primary, request: request, now: now)
        if l1.varyFields != nil {
            varyFields = l1.varyFields
            variantKey = l1.variantKey
        }
        if let entry = l1.entry, CacheLookup.evaluate(entry: entry.metadata, requestHeaders: request.fields, now: now) == .fresh {
            return loop.makeSucceededFuture(serveHit(entry, now: now))
        }
        return fetch(stale: nil)
    }

    /// The local leader asks the cluster: the lock's holder goes to the origin; the others wait for its announcement.
    private func lockThenFetch() -> EventLoopFuture<Response> {
        guard let l2 = cache.l2, l2.isAvailable, let keys = l2Keys() else { return fetch(stale: nil) }
        let token = cache.lockToken()
        let attempt = l2.tryFillLock(
            keys, token: token, ttl: cache.config.lockTTL, variantKey: variantKey, now: cache.clock(), newestPurge: cache.bans.newest, on: loop
        )
        return attempt
            .map { Optional($0) }
            .recover { _ in nil }
            .hop(to: loop)
            .flatMap { [self] attempt -> EventLoopFuture<Response> in
                switch attempt {
                case .acquired?:
                    hold(keys, token: token)
                    return fetch(stale: nil)
                case .stored?:
                    return lookupAfterWait()
                case .held?:
                    guard NIODeadline.now() < deadline else {
                        cache.stats.lockTimeouts.add()
                        return fetch(stale: nil)
                    }
                    cache.stats.lockWaits.add()
                    collapsed = true
                    return waitForCluster(keys)
                case nil:
                    // The attempt failed (a timeout, a lost connection): the SET may still have run. Keep the token
                    // without renewing it, so the store (or the release when nothing is stored) frees the lock if it
                    // is ours, instead of leaving the other instances to wait out its TTL.
                    lock = (keys, token)
                    return fetch(stale: nil)
                }
            }
    }

    /// Keeps the lock alive while the fill goes on: a holder that dies lets it expire within the lock's TTL.
    private func hold(_ keys: L2Store.Keys, token: String) {
        lock = (keys, token)
        guard let l2 = cache.l2 else { return }
        let ttl = cache.config.lockTTL
        let every = TimeAmount.nanoseconds(TimeAmount(ttl).nanoseconds / 3)
        let loop = self.loop
        renewal = loop.scheduleRepeatedTask(initialDelay: every, delay: every) { _ in
            l2.renew(keys, token: token, ttl: ttl, on: loop)
        }
    }

    /// Waits for the holder's announcement, polling the lock every 100 ms (an announcement lost with a pub/sub
    /// reconnect, or a holder that died, shows as a lock that is gone); then looks in L2 again.
    private func waitForCluster(_ keys: L2Store.Keys) -> EventLoopFuture<Response> {
        guard let l2 = cache.l2 else { return fetch(stale: nil) }
        let woken = loop.makePromise(of: Void.self)
        let loop = self.loop
        let waiter = l2.onFill(keys.lock) { loop.execute { woken.succeed() } }
        woken.futureResult.whenComplete { _ in l2.forgetWaiter(waiter, of: keys.lock) }
        let poll = loop.scheduleRepeatedAsyncTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
            // A poll that failed says nothing about the holder: with Redis reachable (a slow answer) keep waiting for
            // the announcement, the next poll or the deadline; with Redis gone, go on now (nothing will be announced).
            l2.isLocked(keys, on: loop).map { locked in if !locked { woken.succeed() } }.recover { _ in if !l2.isAvailable { woken.succeed() } }
        }
        let timeout = loop.scheduleTask(deadline: deadline) { woken.succeed() }
        return woken.futureResult.flatMap { [self] in
            poll.cancel()
            timeout.cancel()
            return lookupAfterWait()
        }
    }

    private func lookupAfterWait() -> EventLoopFuture<Response> {
        guard let l2 = cache.l2, let keys = l2Keys() else { return fetch(stale: nil) }
        let now = cache.clock()
        let answer = loop.makePromise(of: Response.self)
        l2.lookup(keys, variantKey: variantKey, now: now, readVary: true, patient: true, on: loop) { [self] result in
            found(afterWait: result, now: now).cascade(to: answer)
        }
        return answer.futureResult
    }

    private func found(afterWait result: L2Store.Lookup?, now: Double) -> EventLoopFuture<Response> {
        guard let result else { return fetch(stale: nil) }  // Redis failed: alone to the origin
        switch result {
        case .entry(let metadata, let storedAt, _) where isPurged(metadata, storedAt: storedAt):
            // Stored before a purge this instance knows of (the holder's fill was not stored, and an older copy
            // is still in Redis): as if nothing were stored.
            return lockAgainOrFetch()
        case .entry(let metadata, let storedAt, let body?):
            let entry = CachedEntry(metadata: metadata, body: body, storedAt: storedAt, tier: .l2)
            guard entry.isAcceptable(to: request) else { return fetch(stale: nil) }
            keepInL1(entry)
            if CacheLookup.evaluate(entry: metadata, requestHeaders: request.fields, now: now) == .fresh {
                middleware.counters.lookup(.l2, .hit)
                finishFill(releaseLock: false)  // the local waiters find it in L1 now
                return loop.makeSucceededFuture(serveHit(entry, now: now))
            }
            return fetch(stale: nil)
        case .vary(let fields) where varyFields == nil:
            varyFields = fields
            variantKey = primary.variant(fields: fields, requestHeaders: request.fields)
            return lookupAfterWait()
        default:
            // Nothing stored: the holder died or its response was not storable.
            return lockAgainOrFetch()
        }
    }

    /// Nothing usable in L2 after a wait: take the lock while there is time left, else go to the origin alone.
    private func lockAgainOrFetch() -> EventLoopFuture<Response> {
        NIODeadline.now() < deadline ? lockThenFetch() : fetch(stale: nil)
    }

    /// This request's part in coalescing is over: release the lock (if no store did), wake the local waiters.
    func finishFill(releaseLock: Bool = true) {
        renewal?.cancel()
        renewal = nil
        if releaseLock, let lock, let l2 = cache.l2 { l2.release(lock.keys, token: lock.token, on: loop) }
        lock = nil
        if let leading {
            self.leading = nil
            cache.fills.finish(leading)
        }
    }
}
