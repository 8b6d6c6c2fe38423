extension PerMessageDeflateAgreement {
    /// What the server operator allows for permessage-deflate.
    ///
    /// The defaults take whatever a client offers: compression costs the server a deflate and an inflate state per
    /// connection (about 300 KiB at 15-bit windows), and smaller windows shrink both (RFC 7692 §7.1.2) at some cost
    /// in ratio. No context takeover (§7.1.1) makes each message compress on its own: worse ratio, and here no
    /// memory saved, as the zlib states stay allocated and are reset. Window sizes out of range are brought into it
    /// by `negotiate`; the level is checked by `PerMessageDeflateCompressor`.
    public struct Policy: Sendable, Equatable {
        /// Whether to accept permessage-deflate at all.
        public var enabled: Bool
        /// Always reset the server's compressor after each message, even if the client did not ask (§7.1.1.1).
        public var serverNoContextTakeover: Bool
        /// Ask the client to reset its compressor after each message (§7.1.1.2).
        public var clientNoContextTakeover: Bool
        /// The server's deflate level, 0...9.
        public var level: Int
        /// The largest window the server compresses with, 9...15 (zlib's raw deflate has no 8).
        public var serverMaxWindowBits: Int
        /// The largest window the client may compress with, 8...15: the server inflates with this window. Below 15,
        /// offers without client_max_window_bits are declined, since such a client cannot be limited (§7.1.2.2).
        public var clientMaxWindowBits: Int

        public init(
            enabled: Bool = true,
            serverNoContextTakeover: Bool = false,
            clientNoContextTakeover: Bool = false,
            level: Int = 6,
            serverMaxWindowBits: Int = 15,
            clientMaxWindowBits: Int = 15
        ) {
            self.enabled = enabled
            self.serverNoContextTakeover = serverNoContextTakeover
            self.clientNoContextTakeover = clientNoContextTakeover
            self.level = level
            self.serverMaxWindowBits = serverMaxWindowBits
            self.clientMaxWindowBits = clientMaxWindowBits
        }
    }
}
