/// A connection's view of the runtime in force, the same rule for both protocols: a request runs
/// on the runtime it began with, and a reload applies to the next request on every open
/// connection. Re-read only when `RuntimeBox.version` says a reload replaced it: one atomic load
/// per request instead of a lock every event loop shares. Confined to the connection's loop.
struct RuntimeSnapshot {
    private(set) var runtime: ServerRuntime
    private var version: Int

    init(_ box: RuntimeBox) {
        self.version = box.version
        self.runtime = box.current
    }

    /// Catches up with `box`; answers whether the runtime changed.
    mutating func refresh(from box: RuntimeBox) -> Bool {
        let latest = box.version
        guard latest != version else { return false }
        version = latest
        let current = box.current
        guard current !== runtime else { return false }
        runtime = current
        return true
    }
}
