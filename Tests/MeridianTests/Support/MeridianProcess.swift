import Foundation

/// The real `meridian` binary run as a child process, for what only a process shows: signals,
/// exit codes, CLI output.
final class MeridianProcess: @unchecked Sendable {  // mutated only by the test that owns it
    private(set) var process: ChildProcess!
    private let collected = Collected()
    let directory: URL

    final class Collected: @unchecked Sendable {
        let lock = NSLock()
        var text = ""
        func append(_ s: String) { lock.lock(); text += s; lock.unlock() }
        var value: String { lock.lock(); defer { lock.unlock() }; return text }
    }

    static var binary: URL {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = here.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("meridian")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug/meridian")
    }

    /// Runs `meridian args...` to completion (killed after 30 s); returns (exit code, stdout + stderr).
    static func run(_ args: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        try await Subprocess.run(binary, args, environment: environment, timeout: 30)
    }

    /// `meridian serve --config <dir>/meridian.yaml` with `config` written there.
    convenience init(config: String, files: [String: String] = [:], environment: [String: String] = [:]) throws {
        try self.init(files: files, environment: environment) { process in
            try process.writeConfig(config)
            return ["serve", "--config", process.configPath]
        }
    }

    /// `meridian <arguments>` started in a fresh directory (with `files`), running until stopped.
    convenience init(arguments: [String], files: [String: String] = [:]) throws {
        try self.init(files: files) { _ in arguments }
    }

    private init(files: [String: String], environment: [String: String] = [:], arguments: (MeridianProcess) throws -> [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-proc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (path, content) in files {
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
        }
        process = try ChildProcess([Self.binary.path] + (try arguments(self)), environment: environment, directory: directory.path)
        let collected = self.collected
        let output = process.output
        let reader = Thread {
            while true {
                let data = output.availableData
                if data.isEmpty { break }
                collected.append(String(decoding: data, as: UTF8.self))
            }
        }
        reader.start()
    }

    var configPath: String { directory.appendingPathComponent("meridian.yaml").path }

    func writeConfig(_ text: String) throws {
        try Data(text.replacingOccurrences(of: "{{root}}", with: directory.path).utf8).write(to: URL(fileURLWithPath: configPath))
    }

    var log: String { collected.value }

    /// Waits for a log line containing `text` (the JSON logs are the process' only voice).
    func waitForLog(_ text: String, after: Int = 0, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let log = self.log
            if log.count > after, log.dropFirst(after).contains(text) { return }
            if !process.isRunning && !self.log.dropFirst(after).contains(text) {
                throw TestError("meridian exited (\(process.terminationStatus)) before logging '\(text)':\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestError("no '\(text)' in the log within \(timeout):\n\(log)")
    }

    /// The port a listener logged (`"listener":"NAME"` with `"address":"127.0.0.1:PORT"`).
    func port(of listener: String) async throws -> Int {
        try await waitForLog("\"listener\":\"\(listener)\"")
        for line in log.split(separator: "\n") where line.contains("\"listener\":\"\(listener)\"") && line.contains("\"msg\":\"listening\"") {
            if let range = line.range(of: "\"address\":\"127.0.0.1:") {
                let rest = line[range.upperBound...]
                if let port = Int(rest.prefix(while: \.isNumber)) { return port }
            }
        }
        throw TestError("no port for \(listener) in:\n\(log)")
    }

    func signal(_ sig: Int32) { process.signal(sig) }

    /// Waits for exit; the exit code, or nil on timeout.
    func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    deinit {
        if let process {
            process.signal(SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
