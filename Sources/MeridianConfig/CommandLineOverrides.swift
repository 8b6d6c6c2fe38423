/// The quick flags of `meridian serve` (`--listen`, `--admin`, `--root`), which win over the file
/// and the environment, and keep winning after each reload.
public struct CommandLineOverrides: Sendable, Equatable {
    public var listen: Configuration.Address?
    public var admin: Configuration.Address?
    public var root: String?
    /// `--tls-cert` / `--tls-key`: TLS (with HTTP/2) on the listener, with this one certificate.
    public var tlsCertificate: Configuration.TLS.Certificate?

    public init(
        listen: Configuration.Address? = nil, admin: Configuration.Address? = nil, root: String? = nil,
        tlsCertificate: Configuration.TLS.Certificate? = nil
    ) {
        self.listen = listen
        self.admin = admin
        self.root = root
        self.tlsCertificate = tlsCertificate
    }

    public func apply(to config: inout Configuration) {
        if let listen {
            var listener = config.listeners.first ?? Configuration.Listener()
            listener.address = listen
            config.listeners = [listener]
        }
        if let certificate = tlsCertificate {
            var listener = config.listeners.first ?? Configuration.Listener()
            if listen == nil && listener.tls == nil && listener.address.port == 8080 { listener.address.port = 8443 }
            listener.tls = Configuration.TLS(certificates: [certificate])
            listener.sendfile = false
            config.listeners = [listener]
        }
        if let admin { config.admin.address = admin }
        if let root { config.defaults.root = root }
    }
}
