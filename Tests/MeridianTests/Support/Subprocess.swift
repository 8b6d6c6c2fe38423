import Foundation

/// Runs a command-line tool to completion (killed after `timeout`) and returns its exit code and
/// combined output. Every real peer the tests drive (curl, nghttp, openssl, meridian) goes through here.
enum Subprocess {
    /// Foundation's `Process.run()` on Linux is not safe to call from several threads at once (it
    /// copies the environment while another launch is doing the same; seen as a crash in memcpy),
    /// and the tests run in parallel: launches take turns. Waiting does not.
    private static let launchLock = NSLock()

    static func launch(_ process: Process) throws {
        launchLock.lock()
        defer { launchLock.unlock() }
        try process.run()
    }

    static func run(_ executable: URL, _ args: [String], environment: [String: String] = [:], timeout: Double = 60) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = executable
        p.arguments = args
        if !environment.isEmpty {
            var env = ProcessInfo.processInfo.environment
            for (k, v) in environment { env[k] = v }
            p.environment = env
        }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try launch(p)
        let killer = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        killer.cancel()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A tool found on PATH.
    static func run(_ tool: String, _ args: [String], timeout: Double = 60) throws -> (Int32, String) {
        try run(URL(fileURLWithPath: "/usr/bin/env"), [tool] + args, timeout: timeout)
    }
}
