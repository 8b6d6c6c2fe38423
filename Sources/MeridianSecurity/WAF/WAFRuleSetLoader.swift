internal import CModSecurity

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// Builds one ModSecurity `RulesSet` from a configuration: generated directives, the CRS setup,
/// the CRS rule files in order, the operator's rules, and Meridian's score report.
///
/// Order matters to ModSecurity in two ways: rules of a phase run in load order, and a
/// `setvar` must run before the rule that reads it. So the engine directives come first, then
/// the setup file (`SecDefaultAction`, `tx.*` defaults), then Meridian's `tx.*` SecAction (after
/// the setup, so the Meridian config wins; before REQUEST-901, which fills in only what is
/// unset), then the rule files sorted by name as the CRS numbers them (REQUEST-901 … 949,
/// then RESPONSE-950 … 980 when loaded), then the operator's rules, then the phase-5 report.
struct WAFRuleSetLoader {
    let configuration: WAFEngine.Configuration

    /// A new `RulesSet *` the caller owns (free it with `msc_rules_cleanup` under the load lock).
    func load() throws(WAFEngineError) -> OpaquePointer {
        try configuration.validate()
        let files = try ruleFiles()
        let setupVersion = try crsSetupVersion(files)
        ModSecurityRuntime.loadLock.lock()
        defer { ModSecurityRuntime.loadLock.unlock() }
        guard let rules = msc_create_rules_set() else {
            throw .invalidConfiguration("msc_create_rules_set returned NULL (out of memory)")
        }
        do throws(WAFEngineError) {
            try add(WAFDirectives.engine(configuration), to: rules, source: "Meridian's generated engine directives")
            if let setup = configuration.crsSetupFile {
                try addFile(setup, to: rules)
            }
            try add(
                WAFDirectives.crsVariables(configuration, setupVersion: setupVersion), to: rules,
                source: "Meridian's generated CRS variables")
            try addSources(configuration.rulesBeforeCRS, to: rules, position: "rules before the CRS")
            for file in files {
                try addCRSFile(file, to: rules)
            }
            try addSources(configuration.rulesAfterCRS, to: rules, position: "rules after the CRS")
            try add(WAFDirectives.scoreReport, to: rules, source: "Meridian's generated score report")
            return rules
        } catch {
            _ = msc_rules_cleanup(rules)
            throw error
        }
    }

    /// `rules/REQUEST-*.conf` (and `RESPONSE-*.conf` when asked), sorted as the CRS numbers them.
    private func ruleFiles() throws(WAFEngineError) -> [String] {
        let directory = configuration.crsDirectory + "/rules"
        guard let stream = opendir(directory) else {
            throw .invalidConfiguration(
                "cannot read the CRS rules directory \(directory): \(String(cString: strerror(errno))); "
                    + "install Debian's modsecurity-crs or set crsDirectory")
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            guard name.hasSuffix(".conf") else { continue }
            if name.hasPrefix("REQUEST-") || (configuration.loadsResponseRules && name.hasPrefix("RESPONSE-")) {
                names.append(name)
            }
        }
        // "REQUEST-…" sorts before "RESPONSE-…" and the numbers are zero-padded: byte order is load order.
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        guard names.contains(where: { $0.hasPrefix("REQUEST-901-") }) else {
            throw .invalidConfiguration(
                "\(directory) has no REQUEST-901-INITIALIZATION.conf; crsDirectory must point at a CRS 3.3 installation"
            )
        }
        return names.map { directory + "/" + $0 }
    }

    private func crsSetupVersion(_ files: [String]) throws(WAFEngineError) -> Int {
        guard let initialization = files.first(where: { $0.hasSuffix("/REQUEST-901-INITIALIZATION.conf") }),
            let text = try? Self.readFile(initialization),
            let version = WAFDirectives.setupVersion(fromRuleText: text)
        else {
            throw .invalidConfiguration(
                "cannot read the CRS version (ver:'OWASP_CRS/x.y.z') from REQUEST-901-INITIALIZATION.conf "
                    + "under \(configuration.crsDirectory)/rules")
        }
        return version
    }

    private func addCRSFile(_ path: String, to rules: OpaquePointer) throws(WAFEngineError) {
        guard path.hasSuffix("/" + CRSIPCollectionFilter.scannerDetectionFile) else {
            return try addFile(path, to: rules)
        }
        let directory = String(path.dropLast(CRSIPCollectionFilter.scannerDetectionFile.count + 1))
        let text: String
        do {
            text = try Self.readFile(path)
        } catch {
            throw .invalidConfiguration("cannot read \(path): \(error)")
        }
        let filtered = try CRSIPCollectionFilter(dataDirectory: directory).filter(text, source: path)
        try add(filtered.text, to: rules, source: path + " (IP-collection writes removed)")
    }

    private func addSources(
        _ sources: [WAFEngine.RuleSource], to rules: OpaquePointer, position: String
    ) throws(WAFEngineError) {
        for (index, source) in sources.enumerated() {
            switch source {
            case .file(let path):
                try addFile(path, to: rules)
            case .inline(let text):
                try add(text, to: rules, source: "\(position), inline rules #\(index + 1)")
            }
        }
    }

    private func add(_ text: String, to rules: OpaquePointer, source: String) throws(WAFEngineError) {
        var error: UnsafePointer<CChar>?
        let added = msc_rules_add(rules, text, &error)
        try check(added, error, source: source)
    }

    private func addFile(_ path: String, to rules: OpaquePointer) throws(WAFEngineError) {
        var error: UnsafePointer<CChar>?
        let added = msc_rules_add_file(rules, path, &error)
        try check(added, error, source: path)
    }

    /// `msc_rules_add*` return the number of rules added, or -1 with a `strdup`ed message.
    private func check(_ added: Int32, _ error: UnsafePointer<CChar>?, source: String) throws(WAFEngineError) {
        guard added < 0 else { return }
        let message = error.map { String(cString: $0) } ?? "no error message"
        free(UnsafeMutablePointer(mutating: error))
        throw .ruleLoadFailed(source: source, message: message)
    }

    private struct ReadError: Error, CustomStringConvertible {
        let description: String
    }

    private static func readFile(_ path: String) throws -> String {
        guard let file = fopen(path, "rb") else { throw ReadError(description: String(cString: strerror(errno))) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count > 0 { bytes.append(contentsOf: buffer[..<count]) }
            if count < buffer.count {
                guard ferror(file) == 0 else { throw ReadError(description: "read error") }
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
