import Foundation
import NIOConcurrencyHelpers

/// A real WebSocket client (`Tests/tools/ws_peer.py`, the Python `websockets` library) running while the test
/// goes on: what it saw, as JSON events, read as they arrive.
final class WebSocketPeer: @unchecked Sendable {  // fields set once in init; OutputCollector locks its own
    let process: ChildProcess
    private let output: OutputCollector

    init(_ url: String, _ arguments: [String] = []) throws {
        process = try ChildProcess(["python3", TestTools.path("ws_peer.py"), url] + arguments, mergeStderr: true)
        output = OutputCollector(process.output)
    }

    private let parsed = NIOLockedValueBox<(consumed: Int, events: [[String: Any]])>((0, []))

    /// Every event so far (lines that are not JSON, such as a traceback, come as `{"event": "text"}`). Only the new
    /// lines are parsed on each call: a test polls this while megabytes arrive.
    var events: [[String: Any]] {
        let text = output.text
        return parsed.withLockedValue { state in
            let utf8 = text.utf8
            guard utf8.count > state.consumed else { return state.events }
            let fresh = utf8.dropFirst(state.consumed)
            guard let lastNewline = fresh.lastIndex(of: UInt8(ascii: "\n")) else { return state.events }
            let complete = fresh[..<lastNewline]
            for line in complete.split(separator: UInt8(ascii: "\n")) {
                let object = (try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
                state.events.append(object ?? ["event": "text", "data": String(decoding: line, as: UTF8.self)])
            }
            state.consumed += complete.count + 1
            return state.events
        }
    }

    var messages: [String] { events.filter { $0["event"] as? String == "message" }.compactMap { $0["data"] as? String } }

    func event(_ name: String) -> [String: Any]? { events.first { $0["event"] as? String == name } }

    /// Waits until an event named `name` has arrived; it, or a failure naming everything seen.
    @discardableResult
    func wait(for name: String, timeout: Duration = .seconds(20)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let e = event(name) { return e }
            if output.isFinished, event(name) == nil { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        if let e = event(name) { return e }
        throw TestError("no '\(name)' event from ws_peer.py; it printed: \(output.text)")
    }

    /// Waits until `count` messages have arrived.
    func waitForMessages(_ count: Int, timeout: Duration = .seconds(20)) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if messages.count >= count { return messages }
            if output.isFinished { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        if messages.count >= count { return messages }
        throw TestError("\(messages.count) of \(count) messages; ws_peer.py printed: \(output.text)")
    }

    deinit {
        process.signal(SIGKILL)
        process.waitUntilExit()
    }
}
