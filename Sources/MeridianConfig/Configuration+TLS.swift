extension Configuration {
    public struct TLS: Sendable, Equatable {
        public enum UnknownServerName: String, Sendable, CaseIterable {
            /// Answer with the default (first) certificate.
            case `default`
            /// Fail the handshake.
            case reject
        }
        public enum Version: String, Sendable, CaseIterable, Comparable {
            case tls10 = "1.0"
            case tls11 = "1.1"
            case tls12 = "1.2"
            case tls13 = "1.3"

            public static func < (a: Version, b: Version) -> Bool { a.rawValue < b.rawValue }
        }
        /// Mozilla's server-side TLS configurations (https://wiki.mozilla.org/Security/Server_Side_TLS, version 5.7):
        /// the versions and TLS 1.2 cipher suites a listener offers unless `min_version` / `ciphers` say otherwise.
        public enum Profile: String, Sendable, CaseIterable {
            /// TLS 1.3 only.
            case modern
            /// TLS 1.2 with ECDHE and AEAD suites only (forward secrecy, no CBC, no SHA-1 MACs), and TLS 1.3.
            case intermediate
            /// TLS 1.0 and later with the CBC and RSA key-exchange suites very old clients need.
            case old

            /// The lowest version the profile allows.
            public var minimumVersion: Version {
                switch self {
                case .modern: .tls13
                case .intermediate: .tls12
                case .old: .tls10
                }
            }
        }
        public struct Certificate: Sendable, Equatable {
            public var cert: String
            public var key: String
            /// SNI names this certificate answers (`example.com`, `*.example.com`); empty takes the
            /// DNS names of the certificate itself.
            public var names: [String]
            /// A DER OCSP response file for this certificate, stapled in the handshake.
            public var ocsp: String?
            public init(cert: String, key: String, names: [String] = [], ocsp: String? = nil) {
                self.cert = cert
                self.key = key
                self.names = names
                self.ocsp = ocsp
            }
        }
        public struct ClientAuth: Sendable, Equatable {
            /// PEM file of the certificate authorities client certificates must chain to.
            public var ca: String
            /// false: ask for a certificate but accept clients without one.
            public var required: Bool
            public init(ca: String, required: Bool = true) {
                self.ca = ca
                self.required = required
            }
        }

        /// The first is the default certificate.
        public var certificates: [Certificate]
        public var unknownServerName: UnknownServerName
        public var profile: Profile
        /// The lowest version offered; nil takes the profile's.
        public var minimumVersionOverride: Version?
        /// OpenSSL cipher list for TLS 1.2 and earlier; nil takes the profile's.
        public var ciphers: String?
        public var clientAuth: ClientAuth?
        /// How often certificate and key files are checked for changes.
        public var reloadInterval: Duration
        /// `Strict-Transport-Security` value sent on this listener's responses; nil sends none.
        public var hsts: String?
        /// Session-ticket key files (nginx `ssl_session_ticket_key` format, 48 or 80 bytes); the first encrypts.
        public var sessionTicketKeys: [String] = []
        public var sessionTickets = SessionTickets()
        /// Fetch each certificate's OCSP response from the responder its certificate names, and staple it (a
        /// certificate's `ocsp` file takes precedence).
        public var ocspStapling = true

        /// Generated session-ticket keys (when no `session_ticket_keys` files are given): rotated on an
        /// interval, shared through Redis when it is configured.
        public struct SessionTickets: Sendable, Equatable {
            public var enabled = true
            public var rotation: Duration = .seconds(12 * 3600)
            /// Keys older than the encrypting one kept for decryption: a ticket resumes for at least keep × rotation.
            public var keep = 2
            /// Through Redis when `redis:` is configured (the keys then sit in Redis: give it TLS and an ACL user).
            public var shared = true
            public init() {}
        }

        /// The lowest version offered: `min_version`, else the profile's.
        public var minimumVersion: Version { minimumVersionOverride ?? profile.minimumVersion }

        public init(
            certificates: [Certificate], unknownServerName: UnknownServerName = .default, profile: Profile = .intermediate,
            minimumVersion: Version? = nil, ciphers: String? = nil, clientAuth: ClientAuth? = nil, reloadInterval: Duration = .seconds(5),
            hsts: String? = nil
        ) {
            self.certificates = certificates
            self.unknownServerName = unknownServerName
            self.profile = profile
            self.minimumVersionOverride = minimumVersion
            self.ciphers = ciphers
            self.clientAuth = clientAuth
            self.reloadInterval = reloadInterval
            self.hsts = hsts
        }
    }

    public struct HTTP2: Sendable, Equatable {
        /// Offer `h2` in ALPN on TLS listeners.
        public var enabled: Bool
        /// Accept HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3) on a plaintext listener.
        public var h2c: Bool
        /// Send a PING this often on idle HTTP/2 connections; nil sends none.
        public var pingInterval: Duration?
        /// Close a connection whose PING is not acknowledged within this.
        public var pingTimeout: Duration
        public var maxConcurrentStreams: Int
        public var initialWindowSize: Int
        public var maxFrameSize: Int
        public var maxHeaderListSize: Int
        /// RST_STREAM frames a client may send per 30 s before the connection is closed (rapid reset, CVE-2023-44487).
        public var maxResetsPerWindow: Int
        /// Consecutive CONTINUATION frames allowed (CONTINUATION flood).
        public var maxContinuationFrames: Int
        /// PING, SETTINGS and other control frames a client may send per 30 s (PING and SETTINGS floods).
        public var maxControlFramesPerWindow: Int

        public init(
            enabled: Bool = true, h2c: Bool = false, pingInterval: Duration? = nil, pingTimeout: Duration = .seconds(20),
            maxConcurrentStreams: Int = 100, initialWindowSize: Int = 65535,
            maxFrameSize: Int = 16384, maxHeaderListSize: Int = 16384, maxResetsPerWindow: Int = 200,
            maxContinuationFrames: Int = 5, maxControlFramesPerWindow: Int = 200
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
}
