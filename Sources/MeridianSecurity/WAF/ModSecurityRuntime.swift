internal import CModSecurity
internal import NIOConcurrencyHelpers

/// The process's one `ModSecurity` instance and the lock every rule load takes.
///
/// One instance for the process, created on first use and never freed, instead of one per
/// engine freed in the engine's deinit, because `msc_cleanup` (`ModSecurity::~ModSecurity`,
/// src/modsecurity.cc at v3.0.9) calls `xmlCleanupParser()` and `curl_global_cleanup()`.
/// Both are process-global: libxml2 documents that `xmlCleanupParser` "may crash the
/// application if another thread or a plugin is still using libxml2", and the engine of a
/// reloaded config would still be parsing XML bodies on other threads while the old engine
/// went away. What an instance holds per engine — nothing: the rules live in a `RulesSet`, which
/// each `WAFEngine` owns and frees; the instance only carries the log callback and the
/// persistent collections, which `CRSIPCollectionFilter` keeps the CRS from writing.
///
/// Rule loading is serialised process-wide because ModSecurity's SecLang parser keeps global
/// state (the flex scanner's `yytext` and friends): two threads loading into two different
/// rule sets corrupt each other (owasp-modsecurity/ModSecurity#2536, #3138; the maintainers:
/// "the stage that the rules are loaded is not thread safe by design"). Swift Testing runs suites
/// in parallel, and a reload can overlap a startup, so this is not theoretical.
enum ModSecurityRuntime {
    /// `ModSecurity *`, immutable once `msc_set_log_cb` has run.
    static let instance = ModSecurityHandle.makeProcessInstance()

    /// Held around `msc_create_rules_set`, every `msc_rules_add*`, and `msc_rules_cleanup`.
    static let loadLock = NIOLock()
}

/// A `ModSecurity *` that is safe to share between threads once configured.
///
/// `@unchecked Sendable` because the pointer is opaque to Swift. Safe because after
/// `makeProcessInstance` returns nothing writes the object's own fields: `msc_new_transaction*`
/// only reads it (the collections and the log callback pointer), the log callback and its
/// properties are set once before the handle is published by `static let` (whose initialisation
/// Swift runs once, under `swift_once`, with a barrier), and the in-memory collections guard their
/// writes with their own mutex (the unguarded reads are why the CRS's IP writes are filtered out).
struct ModSecurityHandle: @unchecked Sendable {
    let pointer: OpaquePointer

    fileprivate static func makeProcessInstance() -> ModSecurityHandle {
        guard let modSecurity = msc_init() else {
            fatalError("msc_init returned NULL: libmodsecurity could not allocate its instance")
        }
        msc_set_connector_info(modSecurity, "Meridian WAF (libmodsecurity C API)")
        // TextLogProperty (the default of msc_set_log_cb): one error-log line per matched rule,
        // passed as `const char *` together with the transaction's `logCbData`.
        msc_set_log_cb(modSecurity) { context, line in
            guard let context, let line else { return }
            context.assumingMemoryBound(to: WAFTransactionLog.self).pointee
                .record(line.assumingMemoryBound(to: CChar.self))
        }
        return ModSecurityHandle(pointer: modSecurity)
    }
}
