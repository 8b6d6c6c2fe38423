public import MeridianConfig
public import MeridianCore

/// The YAML model mapped to Core's own settings: Core never sees the file format.
extension ServerLimits {
    public init(_ c: Configuration.Limits) {
        self.init(
            maxConnections: c.maxConnections, maxRequestLine: c.maxRequestLine, maxHeaderBytes: c.maxHeaderBytes,
            maxHeaderCount: c.maxHeaderCount, maxBodyBytes: c.maxBodyBytes, maxRequestsPerConnection: c.maxRequestsPerConnection
        )
    }
}

extension ServerTimeouts {
    public init(_ c: Configuration.Timeouts) {
        self.init(headerRead: c.headerRead, idle: c.idle, bodyRead: c.bodyRead, send: c.send)
    }
}

extension ListenerSettings {
    public init(_ c: Configuration.Listener) {
        self.init(
            name: c.name, host: c.address.host, port: c.address.port, reusePort: c.reusePort, backlog: c.backlog,
            sendfile: c.sendfile, tls: c.tls.map(TLSSettings.init), http2: HTTP2ListenerSettings(c.http2), redirect: c.redirect
        )
    }
}

extension TLSSettings {
    public init(_ c: Configuration.TLS) {
        self.init(
            certificates: c.certificates.map { Certificate(cert: $0.cert, key: $0.key, names: $0.names, ocsp: $0.ocsp) },
            rejectUnknownServerName: c.unknownServerName == .reject, minimumVersion: TLSProtocolVersion(c.minimumVersion),
            ciphers: c.ciphers ?? TLSProfile(c.profile).ciphers,
            clientAuth: c.clientAuth.map { ClientAuth(ca: $0.ca, required: $0.required) }, reloadInterval: c.reloadInterval, hsts: c.hsts
        )
        sessionTicketKeys = c.sessionTicketKeys
        sessionTicketRotation = c.sessionTickets.enabled ? c.sessionTickets.rotation : nil
        sessionTicketsKeep = c.sessionTickets.keep
        sessionTicketsShared = c.sessionTickets.shared
        fetchOCSP = c.ocspStapling
    }
}

extension HTTP2ListenerSettings {
    public init(_ c: Configuration.HTTP2) {
        self.init(
            enabled: c.enabled, h2c: c.h2c, pingInterval: c.pingInterval, pingTimeout: c.pingTimeout,
            maxConcurrentStreams: c.maxConcurrentStreams, initialWindowSize: c.initialWindowSize, maxFrameSize: c.maxFrameSize,
            maxHeaderListSize: c.maxHeaderListSize, maxResetsPerWindow: c.maxResetsPerWindow,
            maxContinuationFrames: c.maxContinuationFrames, maxControlFramesPerWindow: c.maxControlFramesPerWindow
        )
    }
}

extension Router.HeaderCondition {
    public init(_ c: Configuration.HeaderCondition) {
        self.init(name: c.name, value: c.value)
    }
}

extension RoutePattern.Source {
    public init(_ path: Configuration.Match.Path) {
        switch path {
        case .exact(let p): self = .exact(p)
        case .pattern(let p): self = .pattern(p)
        case .prefix(let p): self = .prefix(p)
        case .regex(let r): self = .regex(r)
        }
    }
}

extension Router.QueryCondition {
    public init(_ c: Configuration.QueryCondition) throws {
        switch c.test {
        case .present: self.init(name: c.name, test: .present)
        case .equals(let v): self.init(name: c.name, test: .equals(v))
        case .regex(let r): self = try .regex(c.name, r)
        }
    }
}

extension TLSProtocolVersion {
    init(_ v: Configuration.TLS.Version) {
        switch v {
        case .tls10: self = .tls10
        case .tls11: self = .tls11
        case .tls12: self = .tls12
        case .tls13: self = .tls13
        }
    }
}

extension TLSProfile {
    init(_ p: Configuration.TLS.Profile) {
        switch p {
        case .modern: self = .modern
        case .intermediate: self = .intermediate
        case .old: self = .old
        }
    }
}
