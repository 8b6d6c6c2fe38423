internal import MeridianConfig
internal import NIOCore
internal import NIOSSL

/// TLS to a cluster's endpoints: one client context per cluster (built when the configuration is
/// loaded, so a bad PEM file fails the load or the reload, not a request), TLS 1.2 or later,
/// verification of the chain and the name unless turned off, an optional client certificate.
struct UpstreamTLSContext: Sendable {
    let context: NIOSSLContext
    /// The SNI and verification name for each endpoint (nil: an IP with verification off).
    let serverNames: [String?]

    init(_ tls: Configuration.Upstream.UpstreamTLS, endpoints: [Configuration.Upstream.Endpoint], http2: Bool = false) throws {
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv12
        config.applicationProtocols = http2 ? ["h2"] : ["http/1.1"]
        if let ca = tls.ca { config.trustRoots = .file(ca) }
        if let certificate = tls.certificate, let key = tls.key {
            config.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            config.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        if !tls.verify { config.certificateVerification = .none }
        self.context = try NIOSSLContext(configuration: config)
        self.serverNames = endpoints.map { endpoint in
            tls.serverName ?? (IPNetwork.parseAddress(Substring(endpoint.host)) == nil ? endpoint.host : nil)
        }
    }

    /// The handler that goes first in a new connection's pipeline.
    func handler(for endpoint: Int) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: serverNames[endpoint])
    }
}
