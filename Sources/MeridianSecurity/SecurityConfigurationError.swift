/// A CORS or security-header configuration that cannot be turned into a policy.
///
/// Carries every problem found at once, each a sentence saying what is wrong and what to write
/// instead, so an operator fixes a config file in one pass rather than one restart per mistake.
/// The config loader prefixes its own file:line.
public struct SecurityConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which configuration block was refused, e.g. `cors` or `security_headers`.
    public let component: String
    /// Human-readable problems, as returned by the component's `validate`.
    public let problems: [String]

    public init(component: String, problems: [String]) {
        self.component = component
        self.problems = problems
    }

    public var description: String {
        "invalid \(component) configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
