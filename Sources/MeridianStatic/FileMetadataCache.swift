internal import NIOCore

/// Per-event-loop cache of path resolutions (open descriptors and small files' bytes), like nginx's
/// `open_file_cache`: a hit costs no system call. Entries are trusted for `validity`, then resolved
/// again off the loop; concurrent misses for one path share a single resolution.
///
/// `@unchecked Sendable`: each instance belongs to one event loop and every method asserts it runs there.
final class FileMetadataCache: @unchecked Sendable {
    private struct Entry {
        var resolution: FileResolution
        var validUntil: NIODeadline
    }

    let eventLoop: any EventLoop
    private let validity: TimeAmount
    private let capacity: Int
    private var entries: [Substring: Entry] = [:]
    private var pending: [Substring: EventLoopFuture<FileResolution>] = [:]
    private var nextSweep: NIODeadline = .now()

    init(eventLoop: any EventLoop, validity: TimeAmount, capacity: Int) {
        self.eventLoop = eventLoop
        self.validity = validity
        self.capacity = capacity
    }

    /// A fresh cached resolution, if there is one.
    func lookup(_ key: Substring, now: NIODeadline) -> FileResolution? {
        eventLoop.assertInEventLoop()
        guard let entry = entries[key] else { return nil }
        if entry.validUntil > now { return entry.resolution }
        entries[key] = nil
        return nil
    }

    /// Resolves `key` with `resolve` (already off-loop), coalescing concurrent misses.
    func resolve(_ key: Substring, _ resolve: () -> EventLoopFuture<FileResolution>) -> EventLoopFuture<FileResolution> {
        eventLoop.assertInEventLoop()
        if let inFlight = pending[key] { return inFlight }
        let future = resolve()
        pending[key] = future
        future.hop(to: eventLoop).assumeIsolated().whenComplete { [self] result in
            self.pending[key] = nil
            guard case .success(let resolution) = result, self.capacity > 0, self.validity > .zero else { return }
            let now = NIODeadline.now()
            if now >= self.nextSweep {
                // Expired entries hold open descriptors (and deleted files' disk space) until
                // looked up again; sweep them out at most once per validity period.
                self.entries = self.entries.filter { $0.value.validUntil > now }
                self.nextSweep = now + self.validity
            }
            if self.entries.count >= self.capacity {
                // Make room by dropping an eighth of the entries; misses are rare enough that a
                // precise LRU is not worth its bookkeeping on every hit.
                for k in self.entries.keys.prefix(max(1, self.capacity / 8)) { self.entries[k] = nil }
            }
            self.entries[key] = Entry(resolution: resolution, validUntil: now + self.validity)
        }
        return future
    }

    var count: Int { entries.count }
}
