import Foundation

/// A helper process whose first line of output is `PORT n`.
final class PortPrintingProcess: @unchecked Sendable {  // fields set once in init
    let process: ChildProcess
    let port: Int

    init(_ arguments: [String]) throws {
        process = try ChildProcess(arguments, mergeStderr: false)
        port = try Self.readPort(process.output, name: arguments.joined(separator: " "))
    }

    /// Blocks until the first line, `PORT n` (or `… port n`), has arrived, and returns n.
    static func readPort(_ output: FileHandle, name: String) throws -> Int {
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.availableData
            if chunk.isEmpty { throw TestError("\(name) exited before printing its port") }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let p = text.split(separator: "\n").first?.split(separator: " ").last.flatMap({ Int($0) }) else {
            throw TestError("\(name) printed \(text)")
        }
        return p
    }

    func stop() {
        process.signal(SIGKILL)
        process.waitUntilExit()
    }
}
