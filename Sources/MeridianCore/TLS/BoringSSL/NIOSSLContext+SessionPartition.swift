// CNIOBoringSSL is swift-nio-ssl's vendored BoringSSL: a target of that package, not a product. SwiftPM passes
// the module maps of every C target in the graph, so it imports; see NIOSSLContext+BoringSSL.swift for why it is used.
internal import CNIOBoringSSL
internal import NIOSSL

/// BoringSSL resumes any session whose session-ID context matches (ssl_session_is_context_valid,
/// ssl/ssl_session.cc:474-478), whatever SNI name the resuming ClientHello carries; one shared
/// ticket key therefore lets a session made for b.test resume under SNI a.test (and on another
/// instance). ssl.h ("Session caching") recommends partitioning by SNI host with a session-ID context.
///
/// The early callback (SSL_CTX_set_select_certificate_cb; ssl/handshake_server.cc:520) runs after SNI
/// is parsed and before swift-nio-ssl's cert_cb and the session lookup, so it can set a per-connection
/// context: SHA-256 of the lower-cased SNI name (sid_ctx is at most 32 bytes). swift-nio-ssl 2.37.6
/// does not use this callback.
private func partitionCallback(_ hello: UnsafePointer<SSL_CLIENT_HELLO>?) -> ssl_select_cert_result_t {
    guard let hello, let ssl = hello.pointee.ssl else { return ssl_select_cert_error }
    var name = "-"
    if let sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) { name = String(cString: sni).lowercased() }
    var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
    let bytes = Array(name.utf8)
    _ = SHA256(bytes, bytes.count, &digest)
    guard SSL_set_session_id_context(ssl, digest, digest.count) == 1 else { return ssl_select_cert_error }
    return ssl_select_cert_success
}

extension NIOSSLContext {
    func installSessionPartitionBySNI() throws {
        let ctx = try unsafeBoringSSLContext()
        SSL_CTX_set_select_certificate_cb(ctx) { partitionCallback($0) }
    }
}
