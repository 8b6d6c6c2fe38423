/// RFC 7692 permessage-deflate parameters agreed with a client.
///
/// The server answers the first offer it can honour (RFC 7692 §5) and the agreement says how each side compresses:
/// whether the context carries over between messages (§7.1.1) and the largest LZ77 window (§7.1.2). It is built by
/// `negotiate`, which also writes the Sec-WebSocket-Extensions response value that tells the client the same.
public struct PerMessageDeflateAgreement: Sendable, Equatable {
    /// The server resets its compressor after each message (§7.1.1.1).
    public var serverNoContextTakeover: Bool
    /// The client resets its compressor after each message, so the server's decompressor does too (§7.1.1.2).
    public var clientNoContextTakeover: Bool
    /// The server's compression window, 9...15 (8 is declined, see `negotiate`).
    public var serverMaxWindowBits: Int
    /// The client's compression window, 8...15, and so the server's decompression window.
    public var clientMaxWindowBits: Int
    /// The Sec-WebSocket-Extensions response value, e.g.
    /// "permessage-deflate; server_no_context_takeover; client_max_window_bits=12"
    public var responseHeader: String

    /// An agreement with the given parameters; the response value lists those that differ from the defaults unless
    /// given. `negotiate` is the way to make one from a request.
    public init(
        serverNoContextTakeover: Bool = false,
        clientNoContextTakeover: Bool = false,
        serverMaxWindowBits: Int = 15,
        clientMaxWindowBits: Int = 15,
        responseHeader: String? = nil
    ) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
        self.responseHeader =
            responseHeader
            ?? Self.header(
                serverNoContextTakeover: serverNoContextTakeover,
                clientNoContextTakeover: clientNoContextTakeover,
                serverMaxWindowBits: serverMaxWindowBits == 15 ? nil : serverMaxWindowBits,
                clientMaxWindowBits: clientMaxWindowBits == 15 ? nil : clientMaxWindowBits
            )
    }

    /// Parses the request's Sec-WebSocket-Extensions field values and accepts the first permessage-deflate offer the
    /// server can honour (RFC 7692 §5, §7.1.1, §7.1.2); nil: no extension.
    ///
    /// There may be several fields, each a comma-separated list of offers with `;` parameters, quoted values allowed
    /// (RFC 6455 §9.1). An offer with an unknown or duplicate parameter or an invalid value is declined and the next
    /// one considered, not an error (§7: a server MUST decline an offer with an unknown parameter, an invalid value,
    /// a repeated parameter, or a configuration it does not support).
    ///
    /// - server_no_context_takeover is always honoured (the compressor resets after each message).
    /// - server_max_window_bits=N: the server compresses with min(N, policy). An offer of 8 is declined: zlib's raw
    ///   deflate has no 256-byte window (madler/zlib#171; deflateInit2 rejects -8), and answering 8 while compressing
    ///   with 9 bits, as Node's `ws` ends up doing, relies on zlib never using distances past 250 bytes. Python's
    ///   `websockets` declines such offers (python-websockets/websockets#1768), and so does this. Browsers never send
    ///   it; the Autobahn suite does.
    /// - client_max_window_bits: with a value N the client compresses with at most N; without one it accepts any
    ///   value, and the answer is min(N, policy) or the policy's value (§7.1.2.2). The answer names the parameter
    ///   only if the client offered it. When the policy wants a window under 15 and the offer lacks the parameter,
    ///   the client cannot be held to it, so the offer is declined (as `ws` does).
    public static func negotiate(offers: [String], policy: Policy) -> PerMessageDeflateAgreement? {
        guard policy.enabled else { return nil }
        for field in offers {
            for offer in WebSocketExtensionOffer.parse(field) where offer.name == "permessage-deflate" {
                if let agreement = accept(offer.parameters, policy: policy) {
                    return agreement
                }
            }
        }
        return nil
    }

    /// What the client asked for in `client_max_window_bits`.
    private enum ClientWindowOffer {
        case none
        case any
        case atMost(Int)
    }

    /// The agreement for one offer, nil to decline it.
    private static func accept(
        _ parameters: [WebSocketExtensionOffer.Parameter],
        policy: Policy
    ) -> PerMessageDeflateAgreement? {
        var serverNoContextTakeover = false
        var clientNoContextTakeover = false
        var serverWindowOffer: Int?
        var clientWindowOffer = ClientWindowOffer.none
        var seen: Set<String> = []
        for parameter in parameters {
            // §7: an offer with the same parameter twice MUST be declined.
            guard seen.insert(parameter.name).inserted else { return nil }
            switch (parameter.name, parameter.value) {
            case ("server_no_context_takeover", nil):
                serverNoContextTakeover = true
            case ("client_no_context_takeover", nil):
                clientNoContextTakeover = true
            case ("server_max_window_bits", let value?):
                guard let bits = windowBits(value) else { return nil }
                serverWindowOffer = bits
            case ("client_max_window_bits", nil):
                clientWindowOffer = .any
            case ("client_max_window_bits", let value?):
                guard let bits = windowBits(value) else { return nil }
                clientWindowOffer = .atMost(bits)
            default:
                // An unknown parameter, or a known one with a value it must not have (or without one it needs).
                return nil
            }
        }
        let policyServerBits = Swift.min(Swift.max(policy.serverMaxWindowBits, 9), 15)
        let policyClientBits = Swift.min(Swift.max(policy.clientMaxWindowBits, 8), 15)
        if serverWindowOffer == 8 {
            return nil
        }
        let serverBits = Swift.min(serverWindowOffer ?? 15, policyServerBits)
        let clientBits: Int
        switch clientWindowOffer {
        case .none:
            guard policyClientBits == 15 else { return nil }
            clientBits = 15
        case .any:
            clientBits = policyClientBits
        case .atMost(let offered):
            clientBits = Swift.min(offered, policyClientBits)
        }
        serverNoContextTakeover = serverNoContextTakeover || policy.serverNoContextTakeover
        clientNoContextTakeover = clientNoContextTakeover || policy.clientNoContextTakeover
        let clientWindowOffered = if case .none = clientWindowOffer { false } else { true }
        return PerMessageDeflateAgreement(
            serverNoContextTakeover: serverNoContextTakeover,
            clientNoContextTakeover: clientNoContextTakeover,
            serverMaxWindowBits: serverBits,
            clientMaxWindowBits: clientBits,
            responseHeader: header(
                serverNoContextTakeover: serverNoContextTakeover,
                clientNoContextTakeover: clientNoContextTakeover,
                // §7.1.2.1: the answer may name server_max_window_bits whether or not it was offered.
                serverMaxWindowBits: serverWindowOffer != nil || serverBits < 15 ? serverBits : nil,
                // §7.1.2.2: it must not name client_max_window_bits unless it was offered.
                clientMaxWindowBits: clientWindowOffered ? clientBits : nil
            )
        )
    }

    /// A window size: a decimal 8...15 with no leading zero (§7.1.2.1, §7.1.2.2).
    private static func windowBits(_ value: String) -> Int? {
        guard let bits = Int(value), (8...15).contains(bits), String(bits) == value else { return nil }
        return bits
    }

    /// The response value: the extension name and the parameters given.
    private static func header(
        serverNoContextTakeover: Bool,
        clientNoContextTakeover: Bool,
        serverMaxWindowBits: Int?,
        clientMaxWindowBits: Int?
    ) -> String {
        var header = "permessage-deflate"
        if serverNoContextTakeover {
            header += "; server_no_context_takeover"
        }
        if clientNoContextTakeover {
            header += "; client_no_context_takeover"
        }
        if let serverMaxWindowBits {
            header += "; server_max_window_bits=\(serverMaxWindowBits)"
        }
        if let clientMaxWindowBits {
            header += "; client_max_window_bits=\(clientMaxWindowBits)"
        }
        return header
    }
}
