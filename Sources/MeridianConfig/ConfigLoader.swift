public import Foundation
internal import Yams

/// Loads `meridian.yaml` into a ``Configuration``: strict keys, range-checked values,
/// and every error reported as `FILE:LINE:COL: key.path: problem`.
public enum ConfigLoader {
    /// Reads and validates a file, then applies `MERIDIAN_*` environment overrides.
    public static func load(
        file path: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> Configuration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError([
                ConfigDiagnostic(
                    source: path, line: 0, column: 0, path: "",
                    message: "cannot read the file (\(Self.reason(error))); check the path and its permissions"
                )
            ])
        }
        var config = try parse(yaml: text, source: path)
        try EnvironmentOverrides.apply(environment, to: &config)
        return config
    }

    /// The configuration used when no file is given, with environment overrides applied.
    public static func defaults(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> Configuration {
        var config = Configuration()
        try EnvironmentOverrides.apply(environment, to: &config)
        return config
    }

    public static func parse(yaml: String, source: String) throws(ConfigError) -> Configuration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigError([Self.diagnostic(for: error, source: source)])
        } catch {
            throw ConfigError([ConfigDiagnostic(source: source, line: 0, column: 0, path: "", message: "\(error)")])
        }
        let reader = ConfigReader(source: source)
        var config = Configuration()
        if let root {
            ConfigDecoder(reader: reader).decode(root, into: &config)
        }
        ConfigValidator(reader: reader).validate(config)
        if !reader.diagnostics.isEmpty {
            throw ConfigError(reader.diagnostics)
        }
        return config
    }

    private static func diagnostic(for error: YamlError, source: String) -> ConfigDiagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            let what = context.map { "\($0.text) " } ?? ""
            return ConfigDiagnostic(
                source: source, line: mark.line, column: mark.column, path: "",
                message: "YAML syntax: \(what)\(problem); fix the indentation or quoting here"
            )
        default:
            return ConfigDiagnostic(source: source, line: 0, column: 0, path: "", message: "YAML: \(error)")
        }
    }

    private static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return ns.localizedDescription
    }
}
