internal import Atomics
internal import Logging

/// swift-otel's diagnostic logger, passed on to Meridian's log, and the only place swift-otel
/// reports spans it dropped: the batch processor logs a full queue (`dropped_count`) and each batch
/// it failed to export (`batch_size`). Those messages become the `meridian_tracing_spans_dropped_total`
/// counters. The message texts are swift-otel 1.6's; the tests check the counters move.
struct OTelDiagnosticsHandler: LogHandler {
    let counters: TracingCounters
    var target: Logger
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let message = event.message.description
        let all = metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new })
        if message.hasPrefix("Spans were dropped"), let n = all["dropped_count"].flatMap({ Int("\($0)") }) {
            counters.droppedQueueFull.wrappingIncrement(by: n, ordering: .relaxed)
        } else if message.hasPrefix("Failed to export batch"), let n = all["batch_size"].flatMap({ Int("\($0)") }) {
            counters.droppedExportFailed.wrappingIncrement(by: n, ordering: .relaxed)
        }
        var meta = all
        meta["component"] = meta["component"] ?? "swift-otel"
        target.log(level: event.level, event.message, metadata: meta, source: event.source, file: event.file, function: event.function, line: event.line)
    }
}
