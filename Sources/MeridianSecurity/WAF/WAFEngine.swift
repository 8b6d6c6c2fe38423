internal import CModSecurity

/// A web application firewall: ModSecurity (libmodsecurity 3) running the OWASP Core Rule Set.
///
/// Built once from a `Configuration` (loading the CRS takes tens of milliseconds and must not
/// happen per request) and then only read: `inspect(_:)` runs one ModSecurity transaction per
/// request and may be called from any number of threads at once. A config reload builds a new
/// engine and drops the old one; the old rule set is freed when the last in-flight `inspect`
/// holding it returns.
///
/// Why it is `Sendable`: its stored properties are a value configuration, the process-wide
/// `ModSecurity` handle and this engine's `RulesSet` handle, none of which changes after `init`.
/// libmodsecurity's contract is that rules are loaded single-threaded and then shared: "Once the
/// rules are loaded multiple requests can share the same `RulesSet` object, leading to
/// parallelism while addressing different requests in different processes or threads"
/// (maintainer, owasp-modsecurity/ModSecurity#2536, collected in #3215 "Review and document
/// multi-threading support"; #1726: "The library is expected to work in multi-threaded
/// scenarios"), and the example Debian ships in libmodsecurity-dev
/// (modsecurity/reading_logs_via_rule_message.h) runs transactions on several pthreads against
/// one `ModSecurity` and one `RulesSet`. Each transaction's state lives in its own `Transaction`.
/// What 3.0.9 does share and write during a transaction — the persistent collections, whose
/// reads take no lock — the CRS reaches only through its scanner rules' IP-reputation writes,
/// which `CRSIPCollectionFilter` removes; see `ModSecurityRuntime` for loading and cleanup.
public final class WAFEngine: Sendable {
    public let configuration: Configuration
    let modSecurity: ModSecurityHandle
    let ruleSet: RuleSetHandle

    /// Loads the CRS and Meridian's directives; throws `WAFEngineError` with ModSecurity's own
    /// message when a rule file or inline rule does not load.
    public init(configuration: Configuration = Configuration()) throws(WAFEngineError) {
        self.configuration = configuration
        self.modSecurity = ModSecurityRuntime.instance
        self.ruleSet = RuleSetHandle(pointer: try WAFRuleSetLoader(configuration: configuration).load())
    }

    deinit {
        ModSecurityRuntime.loadLock.lock()
        defer { ModSecurityRuntime.loadLock.unlock() }
        _ = msc_rules_cleanup(ruleSet.pointer)
    }
}

/// A loaded `RulesSet *`, shared read-only by every transaction of one engine.
///
/// `@unchecked Sendable` because the pointer is opaque to Swift. Safe because the only writers
/// are `WAFRuleSetLoader.load`, which finishes before the handle exists, and
/// `msc_rules_cleanup` in `WAFEngine.deinit`, which cannot overlap an `inspect` (each call holds
/// the engine). Transactions only read the rule set: rules, operators (compiled regexes, `@pm`
/// automata prepared at load by `acmp_prepare`), and properties.
struct RuleSetHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}
