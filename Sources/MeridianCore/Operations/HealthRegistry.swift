internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOHTTP1

/// The checks behind `/livez`, `/readyz` and `/startupz`, in the shape Kubernetes' API server uses:
/// each probe is a list of named checks; `?verbose` lists them as `[+]name ok` / `[-]name failed: reason`.
public final class HealthRegistry: Sendable {
    public enum Probe: String, Sendable, CaseIterable {
        case livez, readyz, startupz
    }

    public struct Check: Sendable {
        public var name: String
        public var probes: Set<Probe>
        /// nil when healthy, otherwise why not.
        public var evaluate: @Sendable () -> String?
        /// What `?verbose` adds after `ok` (a passing check that still has something to say, such
        /// as how many endpoints of each upstream cluster are healthy).
        public var detail: (@Sendable () -> String?)?

        public init(
            name: String, probes: Set<Probe>, detail: (@Sendable () -> String?)? = nil, evaluate: @escaping @Sendable () -> String?
        ) {
            self.name = name
            self.probes = probes
            self.detail = detail
            self.evaluate = evaluate
        }
    }

    private struct State {
        var started = false
        var shuttingDown = false
        var checks: [Check] = []
    }

    private let state = NIOLockedValueBox(State())

    public init() {
        register(Check(name: "ping", probes: [.livez, .readyz, .startupz]) { nil })
        register(Check(name: "started", probes: [.readyz, .startupz]) { [unowned self] in
            self.state.withLockedValue { $0.started } ? nil : "listeners are not bound yet"
        })
        register(Check(name: "shutdown", probes: [.readyz]) { [unowned self] in
            self.state.withLockedValue { $0.shuttingDown } ? "shutting down" : nil
        })
    }

    public func register(_ check: Check) {
        state.withLockedValue { $0.checks.append(check) }
    }

    public func markStarted() { state.withLockedValue { $0.started = true } }
    public func markShuttingDown() { state.withLockedValue { $0.shuttingDown = true } }
    public var isShuttingDown: Bool { state.withLockedValue { $0.shuttingDown } }

    /// Runs a probe's checks, honouring `exclude=name` as Kubernetes does.
    public func evaluate(_ probe: Probe, excluding: Set<String> = []) -> [(name: String, failure: String?)] {
        evaluateWithDetail(probe, excluding: excluding).map { ($0.name, $0.failure) }
    }

    /// The same, with each passing check's detail for `?verbose`.
    public func evaluateWithDetail(_ probe: Probe, excluding: Set<String> = []) -> [(name: String, failure: String?, detail: String?)] {
        let checks = state.withLockedValue { $0.checks }.filter { $0.probes.contains(probe) && !excluding.contains($0.name) }
        return checks.map { check in
            let failure = check.evaluate()
            return (check.name, failure, failure == nil ? check.detail?() : nil)
        }
    }
}

