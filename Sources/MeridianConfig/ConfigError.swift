/// One problem found in a configuration: where it is and what to change.
public struct ConfigDiagnostic: Sendable, Equatable, CustomStringConvertible {
    /// The file (or `env NAME` / `flag --name`) the value came from.
    public var source: String
    public var line: Int
    public var column: Int
    /// The dotted key path, e.g. `hosts[0].routes[2].static.root`.
    public var path: String
    public var message: String

    public init(source: String, line: Int, column: Int, path: String, message: String) {
        self.source = source
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    /// `FILE:LINE:COL: key.path: what is wrong, what is expected`, as `meridian validate` prints it.
    public var description: String {
        let location = line > 0 ? "\(source):\(line):\(column)" : source
        return path.isEmpty ? "\(location): \(message)" : "\(location): \(path): \(message)"
    }
}

/// A configuration that could not be loaded; carries every problem found, not just the first.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    public init(_ diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}
