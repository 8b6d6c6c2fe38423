public import MeridianConfig
public import MeridianCore

/// The address of the client a request came from, as the rate limits, the address rules and the brute-force
/// counters see it: the peer, or behind trusted proxies (`server.trusted_proxies`) the nearest hop in
/// `X-Forwarded-For` that is not one of them — the rightmost untrusted hop, which a client cannot forge.
public struct ClientAddress: Sendable, Equatable {
    /// 4 bytes (IPv4) or 16 (IPv6).
    public var bytes: [UInt8]
    public var text: String

    public init(bytes: [UInt8], text: String) {
        self.bytes = bytes
        self.text = text
    }

    /// nil when the connection has no IP peer (a Unix socket) or a forwarded hop is not an address.
    public static func of(_ request: Request, trustedProxies: [IPNetwork]) -> ClientAddress? {
        guard let peer = request.connection.remoteAddress, let peerBytes = [IPNetwork].bytes(of: peer) else { return nil }
        let peerAddress = ClientAddress(bytes: peerBytes, text: request.connection.remoteIP ?? "")
        guard trustedProxies.trusts(bytes: peerBytes) else { return peerAddress }
        let hops = request.fields[canonicalForm: "x-forwarded-for"].flatMap { $0.split(separator: ",") }
        for hop in hops.reversed() {
            let address = hop.trimmingSpacesAndTabs
            guard let b = IPNetwork.parseAddress(address) else { return nil }
            if !trustedProxies.trusts(bytes: b) { return ClientAddress(bytes: b, text: String(address)) }
        }
        return peerAddress
    }
}

extension Substring {
    fileprivate var trimmingSpacesAndTabs: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
