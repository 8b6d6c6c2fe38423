/// The quick flags of `meridian serve` (`--listen`, `--admin`, `--root`), which win over the file
/// and the environment, and keep winning after each reload.
public struct CommandLineOverrides: Sendable, Equatable {
    public var listen: Configuration.Address?
    public var admin: Configuration.Address?
    public var root: String?

    public init(listen: Configuration.Address? = nil, admin: Configuration.Address? = nil, root: String? = nil) {
        self.listen = listen
        self.admin = admin
        self.root = root
    }

    public func apply(to config: inout Configuration) {
        if let listen {
            var listener = config.listeners.first ?? Configuration.Listener()
            listener.address = listen
            config.listeners = [listener]
        }
        if let admin { config.admin.address = admin }
        if let root { config.defaults.root = root }
    }
}
