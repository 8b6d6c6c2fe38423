// CNIOBoringSSL is swift-nio-ssl's vendored BoringSSL: a target of that package, not a product. SwiftPM passes
// the module maps of every C target in the graph, so it imports; see NIOSSLContext+BoringSSL.swift for why it is used.
internal import CNIOBoringSSL
internal import NIOConcurrencyHelpers
internal import NIOSSL

/// DER OCSP responses keyed by the DER of the leaf certificate they are for. The handshake looks up
/// the leaf that is actually configured on the connection at that point (after swift-nio-ssl's SNI
/// override has been applied), so SNI selection needs no second lookup here.
final class OCSPStapler: Sendable {
    private let responses = NIOLockedValueBox<[[UInt8]: [UInt8]]>([:])

    init() {}

    /// Sets (or with nil removes) the response for a leaf certificate. Takes effect for new handshakes.
    func setResponse(_ der: [UInt8]?, for leaf: NIOSSLCertificate) throws {
        let key = try leaf.toDERBytes()
        responses.withLockedValue { $0[key] = der }
    }

    /// Drops the responses of leaves not in `leaves` (certificates replaced by a reload); file-based ones are set
    /// again by the reload itself.
    func retain(_ leaves: Set<[UInt8]>) {
        responses.withLockedValue { r in r = r.filter { leaves.contains($0.key) } }
    }

    func setResponse(_ der: [UInt8]?, forLeafDER leaf: [UInt8]) {
        responses.withLockedValue { $0[leaf] = der }
    }

    func response(forLeafDER der: [UInt8]) -> [UInt8]? {
        responses.withLockedValue { $0[der] }
    }

    /// Per handshake that asks for a staple (browsers always do): with nothing stapled (no responder, or none fetched
    /// yet) the leaf is not copied and hashed for nothing.
    func response(forLeafDER der: UnsafeRawBufferPointer) -> [UInt8]? {
        guard !responses.withLockedValue({ $0.isEmpty }) else { return nil }
        let key = Array(der)
        return responses.withLockedValue { $0[key] }
    }
}

private let staplerIndex: Int32 = ExDataSlot.newIndex()

/// SSL_CTX_set_tlsext_status_cb: on a BoringSSL server it is called in do_cert_callback
/// (ssl/handshake_server.cc:614-626) right *after* the cert_cb — i.e. after swift-nio-ssl's
/// sslContextCallback override has put the SNI-chosen chain on this SSL — and only when the client
/// sent status_request. OK = staple what is configured, NOACK = staple nothing.
private func statusCallback(ssl: OpaquePointer?, arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let ctx = SSL_get_SSL_CTX(ssl),
        let stapler = ExDataSlot.load(OCSPStapler.self, from: ctx, index: staplerIndex)
    else { return SSL_TLSEXT_ERR_NOACK }
    // The leaf on this connection: index 0 of the legacy credential's CRYPTO_BUFFER chain
    // (SSL_get0_chain, ssl_cert.cc:582). swift-nio-ssl sets it with SSL_use_certificate, which stores
    // a CRYPTO_BUFFER (ssl_x509.cc), so the chain is well-defined here.
    guard let chain = SSL_get0_chain(ssl), sk_CRYPTO_BUFFER_num(chain) > 0,
        let leaf = sk_CRYPTO_BUFFER_value(chain, 0)
    else { return SSL_TLSEXT_ERR_NOACK }
    let der = UnsafeRawBufferPointer(start: CRYPTO_BUFFER_data(leaf), count: CRYPTO_BUFFER_len(leaf))
    guard let response = stapler.response(forLeafDER: der) else {
        // Also covers a response set at SSL_CTX level for another certificate: NOACK clears
        // hs->ocsp_stapling_requested, so nothing stale is stapled (extensions.cc:1131-1136,
        // tls13_both.cc:503).
        return SSL_TLSEXT_ERR_NOACK
    }
    guard SSL_set_ocsp_response(ssl, response, response.count) == 1 else { return SSL_TLSEXT_ERR_ALERT_FATAL }
    return SSL_TLSEXT_ERR_OK
}

extension NIOSSLContext {
    /// Per-certificate OCSP stapling for TLS 1.2 and 1.3, SNI-aware. Call once after creating the
    /// context, before it serves; update responses through `stapler.setResponse` at any time.
    func installOCSPStapler(_ stapler: OCSPStapler) throws {
        let ctx = try unsafeBoringSSLContext()
        try ExDataSlot.store(stapler, in: ctx, index: staplerIndex)
        _ = SSL_CTX_set_tlsext_status_cb(ctx) { statusCallback(ssl: $0, arg: $1) }
    }
}
