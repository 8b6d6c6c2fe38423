/// What Core needs to know of the configuration, in Core's own types: the YAML model
/// (`MeridianConfig`) is mapped to these by `RuntimeBuilder`, so Core never sees a file format.

/// Limits that protect the server (RFC 9110 §5.4, §8.6; RFC 9112 §3): 414, 431 and 413 answers.
public struct ServerLimits: Sendable, Equatable {
    public var maxConnections: Int
    public var maxRequestLine: Int
    public var maxHeaderBytes: Int
    public var maxHeaderCount: Int
    public var maxBodyBytes: Int
    public var maxRequestsPerConnection: Int

    public init(
        maxConnections: Int = 10_000, maxRequestLine: Int = 8192, maxHeaderBytes: Int = 32 * 1024, maxHeaderCount: Int = 100,
        maxBodyBytes: Int = 10 << 20, maxRequestsPerConnection: Int = 10_000
    ) {
        self.maxConnections = maxConnections
        self.maxRequestLine = maxRequestLine
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.maxRequestsPerConnection = maxRequestsPerConnection
    }
}

/// How long the server waits on a client, by phase (see ``HTTP1ConnectionTimeouts``).
public struct ServerTimeouts: Sendable, Equatable {
    public var headerRead: Duration
    public var idle: Duration
    public var bodyRead: Duration
    public var send: Duration

    public init(headerRead: Duration = .seconds(10), idle: Duration = .seconds(60), bodyRead: Duration = .seconds(30), send: Duration = .seconds(60)) {
        self.headerRead = headerRead
        self.idle = idle
        self.bodyRead = bodyRead
        self.send = send
    }
}

/// One listening address and what its connections speak.
public struct ListenerSettings: Sendable {
    public var name: String
    public var host: String
    public var port: Int
    /// One socket per event loop with SO_REUSEPORT, so the kernel spreads connections.
    public var reusePort: Bool
    public var backlog: Int
    /// Plaintext HTTP/1.1 file bodies may leave with sendfile(2).
    public var sendfile: Bool
    public var tls: TLSSettings?
    public var http2: HTTP2ListenerSettings
    /// Every request is answered by a redirect to this target (the plaintext listener that sends
    /// clients to TLS).
    public var redirect: String?

    public init(
        name: String = "http", host: String = "127.0.0.1", port: Int = 0, reusePort: Bool = true, backlog: Int = 1024,
        sendfile: Bool = true, tls: TLSSettings? = nil, http2: HTTP2ListenerSettings = .init(), redirect: String? = nil
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.reusePort = reusePort
        self.backlog = backlog
        self.sendfile = sendfile
        self.tls = tls
        self.http2 = http2
        self.redirect = redirect
    }
}

/// TLS on a listener: certificates chosen by SNI, versions, ciphers, client certificates.
public struct TLSSettings: Sendable, Equatable {
    public struct Certificate: Sendable, Equatable {
        public var cert: String
        public var key: String
        /// SNI names it answers; empty takes the certificate's own DNS names.
        public var names: [String]
        /// A DER OCSP response for the leaf, stapled in handshakes that ask (re-read when the file changes).
        public var ocsp: String?

        public init(cert: String, key: String, names: [String] = [], ocsp: String? = nil) {
            self.cert = cert
            self.key = key
            self.names = names
            self.ocsp = ocsp
        }
    }

    public struct ClientAuth: Sendable, Equatable {
        public var ca: String
        public var required: Bool

        public init(ca: String, required: Bool) {
            self.ca = ca
            self.required = required
        }
    }

    /// The first is the default certificate.
    public var certificates: [Certificate]
    /// Fail handshakes for names no certificate answers (instead of the default certificate).
    public var rejectUnknownServerName: Bool
    /// The lowest protocol version offered.
    public var minimumVersion: TLSProtocolVersion
    /// OpenSSL cipher list for TLS 1.2 and earlier (TLS 1.3's suites are fixed: all three AEADs).
    public var ciphers: String
    public var clientAuth: ClientAuth?
    public var reloadInterval: Duration
    public var hsts: String?
    /// Session-ticket key files (nginx's 48- or 80-byte format): the first encrypts new tickets, all decrypt.
    /// Every instance given the same files resumes every other's sessions. Empty: generated keys (below).
    public var sessionTicketKeys: [String] = []
    /// Without key files: generated keys, rotated on `sessionTicketRotation` by a `TicketKeyRotator` (shared through
    /// Redis when configured), `sessionTicketsKeep` older keys kept for decryption. nil: no session tickets.
    public var sessionTicketRotation: Duration? = .seconds(12 * 3600)
    public var sessionTicketsKeep = 2
    /// Generated keys go through the cluster's store (Redis) when there is one.
    public var sessionTicketsShared = true
    /// Certificates without an `ocsp` file get their OCSP response from their responder (`OCSPStapling`).
    public var fetchOCSP = true

    public init(
        certificates: [Certificate], rejectUnknownServerName: Bool = false, minimumVersion: TLSProtocolVersion = .tls12,
        ciphers: String = TLSProfile.intermediate.ciphers,
        clientAuth: ClientAuth? = nil, reloadInterval: Duration = .seconds(5), hsts: String? = nil
    ) {
        self.certificates = certificates
        self.rejectUnknownServerName = rejectUnknownServerName
        self.minimumVersion = minimumVersion
        self.ciphers = ciphers
        self.clientAuth = clientAuth
        self.reloadInterval = reloadInterval
        self.hsts = hsts
    }
}

/// HTTP/2 on a listener: ALPN or prior knowledge, SETTINGS, and the flood limits.
public struct HTTP2ListenerSettings: Sendable, Equatable {
    public var enabled: Bool
    public var h2c: Bool
    public var pingInterval: Duration?
    public var pingTimeout: Duration
    public var maxConcurrentStreams: Int
    public var initialWindowSize: Int
    public var maxFrameSize: Int
    public var maxHeaderListSize: Int
    public var maxResetsPerWindow: Int
    public var maxContinuationFrames: Int
    public var maxControlFramesPerWindow: Int

    public init(
        enabled: Bool = true, h2c: Bool = false, pingInterval: Duration? = nil, pingTimeout: Duration = .seconds(20),
        maxConcurrentStreams: Int = 100, initialWindowSize: Int = 65535, maxFrameSize: Int = 16384, maxHeaderListSize: Int = 16384,
        maxResetsPerWindow: Int = 200, maxContinuationFrames: Int = 5, maxControlFramesPerWindow: Int = 200
    ) {
        self.enabled = enabled
        self.h2c = h2c
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.maxConcurrentStreams = maxConcurrentStreams
        self.initialWindowSize = initialWindowSize
        self.maxFrameSize = maxFrameSize
        self.maxHeaderListSize = maxHeaderListSize
        self.maxResetsPerWindow = maxResetsPerWindow
        self.maxContinuationFrames = maxContinuationFrames
        self.maxControlFramesPerWindow = maxControlFramesPerWindow
    }
}
