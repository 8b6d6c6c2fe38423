public import NIOHTTP1

/// An answer that switches protocols: on HTTP/1.1 a `101 Switching Protocols` with `Upgrade`
/// (RFC 9110 §7.8), on HTTP/2 the `200` to an extended CONNECT (RFC 8441 §4). Either way the
/// installer gets the same thing: an ``UpgradedStream``, a byte pipe with backpressure.
public struct ProtocolUpgrade: Sendable {
    /// The protocol switched to (`websocket`): the `Upgrade` token, or the `:protocol` of the
    /// extended CONNECT.
    public var protocolName: String
    /// Runs on the event loop once the switch has been sent, with the pipe. Bytes the client sent
    /// after its request and before the switch are the pipe's first read.
    public var install: @Sendable (UpgradedStream) -> Void

    public init(protocolName: String, install: @escaping @Sendable (UpgradedStream) -> Void) {
        self.protocolName = protocolName
        self.install = install
    }
}

extension Response {
    /// Switches to `upgrade.protocolName` with these extra response headers (for example
    /// `sec-websocket-accept`).
    public static func switchingProtocols(_ upgrade: ProtocolUpgrade, headers: HTTPHeaders = [:]) -> Response {
        var response = Response(status: .switchingProtocols, headers: headers)
        response.upgrade = upgrade
        return response
    }
}
