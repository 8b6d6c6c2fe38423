import Foundation
import Testing

/// Messages a handler received, in order (handlers run on an event loop, the test reads from its task).
final class Received: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}

/// Polls `condition` every 10 ms until it holds, or fails the test after `timeout`.
func waitUntil(
    timeout: Duration = .seconds(5), sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("condition not met within \(timeout)", sourceLocation: sourceLocation)
    throw TestError("condition not met within \(timeout)")
}

/// Runs blocking or CPU-heavy work (a child process, a long simulation) on a dispatch thread: the
/// cooperative pool has one thread per core, and a test that holds one for seconds stalls every other
/// test's task (on two cores a client that connected then could not send its request for the server's
/// ten-second header deadline, and the server closed the connection: a CI failure).
func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}
