internal import Atomics
internal import Foundation
public import MeridianCore
internal import NIOConcurrencyHelpers
internal import Tracing

/// Hands every finished request to the metrics, the tracer and the access log.
///
/// Unsampled requests are done at once. Sampled ones wait (up to ``flushInterval``) and are done in
/// a batch by ``flushSampled()``: their span is recorded then, and their exemplar and log line use
/// the ids swift-otel gave the span.
public final class TelemetryObserver: RequestObserver {
    typealias RecordSpan = @Sendable (RequestRecord, UInt64) -> (traceIDHigh: UInt64, traceIDLow: UInt64, spanID: UInt64)?

    let metrics: RequestMetrics?
    let exemplars: Bool
    let recordSpan: RecordSpan?
    let accessLog: AccessLog?
    let counters: TracingCounters
    let maxPending: Int
    /// How often the flusher thread records the waiting sampled requests.
    static let flushInterval: UInt32 = 50_000  // µs
    private let flushing = ManagedAtomic<Bool>(false)
    private let flusherDone = ConditionLock(value: 0)

    struct Pending {
        var record: RequestRecord
        var endNanos: UInt64
        var endedAt: timespec
    }

    /// Sampled requests waiting for the flusher; `running` is false before it starts and after it
    /// stopped, and then sampled requests are completed at once (none is left behind at shutdown).
    private struct PendingState {
        var entries: [Pending] = []
        var running = false
    }

    private let pending = NIOLockedValueBox(PendingState())

    init(
        metrics: RequestMetrics?, exemplars: Bool, recordSpan: RecordSpan?, accessLog: AccessLog?, counters: TracingCounters,
        maxPending: Int
    ) {
        self.metrics = metrics
        self.exemplars = exemplars
        self.recordSpan = recordSpan
        self.accessLog = accessLog
        self.counters = counters
        self.maxPending = maxPending
    }

    public func requestStarted(_ request: Request) {}

    public func requestFinished(_ record: RequestRecord) {
        if recordSpan != nil, let trace = record.request.trace, trace.sampled {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            let entry = Pending(record: record, endNanos: UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec), endedAt: now)
            let queued = pending.withLockedValue { p -> Bool? in
                guard p.running else { return nil }
                guard p.entries.count < maxPending else { return false }
                p.entries.append(entry)
                return true
            }
            switch queued {
            case true?: return
            case false?:
                // A span an upstream try started is recorded anyway: dropping it would leave it open.
                if let early = trace.span as? any SpanStartedEarly, early.startedEarly {
                    complete(record, ids: recordSpan?(record, entry.endNanos), endedAt: now)
                    return
                }
                counters.droppedQueueFull.wrappingIncrement(ordering: .relaxed)  // logged with its provisional ids
            case nil:
                complete(record, ids: recordSpan?(record, entry.endNanos), endedAt: now)
                return
            }
        }
        complete(record, ids: nil, endedAt: nil)
    }

    /// Starts the flusher thread: recording a batch of spans takes ~20 µs a span, which an event
    /// loop should not spend between two requests.
    func startFlushing() {
        let start = pending.withLockedValue { p -> Bool in
            defer { p.running = true }
            return !p.running
        }
        guard start, !flushing.exchange(true, ordering: .relaxed) else { return }
        flusherDone.lock()
        flusherDone.unlock(withValue: 0)
        let t = Thread { [self] in
            while flushing.load(ordering: .relaxed) {
                usleep(Self.flushInterval)
                flushSampled()
            }
            flushSampled()  // what queued while it slept
            flusherDone.lock()
            flusherDone.unlock(withValue: 1)
        }
        t.name = "meridian-span-flush"
        t.start()
    }

    /// Stops queueing (sampled requests ending from now on are recorded at once), lets the flusher
    /// thread record what is waiting, and waits for it. Blocks: call it off the cooperative pool.
    func stopFlushing() {
        pending.withLockedValue { $0.running = false }
        if flushing.exchange(false, ordering: .relaxed) {
            flusherDone.lock(whenValue: 1)
            flusherDone.unlock()
        }
        flushSampled()
    }

    /// Records the spans of the sampled requests that ended since the last flush, then their
    /// metrics and log lines. Runs every ``flushInterval`` on the flusher thread, and at shutdown.
    public func flushSampled() {
        let batch = pending.withLockedValue { p -> [Pending] in
            defer { p.entries.removeAll(keepingCapacity: true) }
            return p.entries
        }
        for entry in batch {
            let ids = recordSpan?(entry.record, entry.endNanos)
            complete(entry.record, ids: ids, endedAt: entry.endedAt)
        }
    }

    private func complete(_ record: RequestRecord, ids: (traceIDHigh: UInt64, traceIDLow: UInt64, spanID: UInt64)?, endedAt: timespec?) {
        if let metrics {
            let seconds = Double(record.duration.nanoseconds) / 1e9
            var exemplar: RequestMetrics.Exemplar?
            if exemplars, let ids, let endedAt {
                exemplar = .init(
                    traceIDHigh: ids.traceIDHigh, traceIDLow: ids.traceIDLow, spanID: ids.spanID, value: seconds,
                    timestamp: Double(endedAt.tv_sec) + Double(endedAt.tv_nsec / 1_000_000) / 1000
                )
            }
            let key = RequestMetrics.Key(
                route: record.route.isEmpty ? "unmatched" : record.route, method: SpanAttributes.method(record.request.method),
                status: Int(record.status.code), protocolVersion: record.request.connection.protocolVersion
            )
            metrics.record(key, seconds: seconds, bytesIn: record.bodyBytesReceived, bytesOut: record.bodyBytesSent, exemplar: exemplar)
        }
        if let accessLog {
            if let ids {
                accessLog.log(record, override: .init(traceID: (ids.traceIDHigh, ids.traceIDLow, ids.spanID), endedAt: endedAt))
            } else {
                accessLog.log(record, override: endedAt.map { .init(traceID: nil, endedAt: $0) })
            }
        }
    }
}
