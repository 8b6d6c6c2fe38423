/// Checks that span sections: names unique, one default host, listeners not clashing.
struct ConfigValidator {
    let reader: ConfigReader

    func validate(_ config: Configuration) {
        if config.listeners.isEmpty {
            reader.error(nil, "listeners", "no listener; give at least one, like - address: 0.0.0.0:8080")
        }
        var names: Set<String> = []
        var addresses: [String: String] = [:]
        for (i, listener) in config.listeners.enumerated() {
            if !names.insert(listener.name).inserted {
                reader.error(nil, "listeners[\(i)].name", "'\(listener.name)' is used twice; listener names must be unique")
            }
            if listener.address.port != 0, let other = addresses[listener.address.description] {
                reader.error(nil, "listeners[\(i)].address", "\(listener.address) is also used by listener '\(other)'")
            }
            addresses[listener.address.description] = listener.name
        }
        if let admin = config.admin.address, admin.port != 0, let other = addresses[admin.description] {
            reader.error(nil, "admin.address", "\(admin) is also used by listener '\(other)'; give the admin its own port")
        }
        if config.hosts.isEmpty {
            reader.error(nil, "hosts", "no host; give at least one with routes")
        }
        let defaults = config.hosts.indices.filter { config.hosts[$0].isDefault }
        if defaults.count > 1 {
            reader.error(nil, "hosts[\(defaults[1])].default", "only one host may be the default")
        }
        var seen: [String: Int] = [:]
        for (i, host) in config.hosts.enumerated() {
            if host.names.isEmpty && !host.isDefault {
                reader.error(nil, "hosts[\(i)].names", "a host without names must be marked default: true")
            }
            for name in host.names {
                if let other = seen[name] {
                    reader.error(nil, "hosts[\(i)].names", "'\(name)' is also a name of hosts[\(other)]")
                }
                seen[name] = i
            }
        }
    }
}
