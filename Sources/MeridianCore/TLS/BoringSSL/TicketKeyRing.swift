// CNIOBoringSSL is swift-nio-ssl's vendored BoringSSL: a target of that package, not a product. SwiftPM passes
// the module maps of every C target in the graph, so it imports; see NIOSSLContext+BoringSSL.swift for why it is used.
internal import CNIOBoringSSL
internal import NIOConcurrencyHelpers
internal import NIOSSL

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// One session-ticket key in nginx's `ssl_session_ticket_key` file formats:
/// 48 bytes = name(16) ‖ AES-128 key(16) ‖ HMAC key(16);
/// 80 bytes = name(16) ‖ HMAC key(32) ‖ AES-256 key(32).
/// Tickets are AES-CBC + HMAC-SHA256 (RFC 5077 §4 layout), as nginx and BoringSSL's built-in keys.
struct TicketKey: Sendable, Equatable {
    let name: [UInt8]
    let hmacKey: [UInt8]
    let aesKey: [UInt8]

    init(nginxFormat bytes: [UInt8]) throws {
        switch bytes.count {
        case 48:
            name = Array(bytes[0..<16]); aesKey = Array(bytes[16..<32]); hmacKey = Array(bytes[32..<48])
        case 80:
            name = Array(bytes[0..<16]); hmacKey = Array(bytes[16..<48]); aesKey = Array(bytes[48..<80])
        default:
            throw TLSExtensionError(description: "a session ticket key must be 48 or 80 bytes, got \(bytes.count)")
        }
    }

    init(file path: String) throws {
        guard let f = fopen(path, "rb") else { throw TLSExtensionError(description: "cannot open \(path)") }
        defer { fclose(f) }
        var buf = [UInt8](repeating: 0, count: 81)
        let n = fread(&buf, 1, 81, f)
        try self.init(nginxFormat: Array(buf[0..<n]))
    }
}

/// The keys of one listener: `keys[0]` encrypts new tickets, every key decrypts (current + previous
/// ones during rotation, like several `ssl_session_ticket_key` lines in nginx). Replace the list at
/// any time with `setKeys`; handshakes read it under a lock.
final class TicketKeyRing: Sendable {
    private let keys: NIOLockedValueBox<[TicketKey]>

    init(_ keys: [TicketKey]) { self.keys = NIOLockedValueBox(keys) }
    func setKeys(_ keys: [TicketKey]) { self.keys.withLockedValue { $0 = keys } }
    var current: [TicketKey] { keys.withLockedValue { $0 } }
}

private let ticketRingIndex: Int32 = ExDataSlot.newIndex()

/// The SSL_CTX_set_tlsext_ticket_key_cb callback (BoringSSL ssl.h "Session tickets"; called from
/// ssl_session.cc ssl_encrypt_ticket_with_cipher_ctx and extensions.cc ssl_decrypt_ticket_with_cb).
/// Return: encrypt 1 = ok, 0 = no ticket, -1 = error; decrypt 1 = ok, 2 = ok + renew, 0 = unknown key.
private func ticketKeyCallback(
    ssl: OpaquePointer?, keyName: UnsafeMutablePointer<UInt8>?, iv: UnsafeMutablePointer<UInt8>?,
    cipherCtx: UnsafeMutablePointer<EVP_CIPHER_CTX>?, hmacCtx: UnsafeMutablePointer<HMAC_CTX>?, encrypt: Int32
) -> Int32 {
    guard let ssl, let keyName, let iv, let cipherCtx, let hmacCtx,
        let ctx = SSL_get_SSL_CTX(ssl),
        let ring = ExDataSlot.load(TicketKeyRing.self, from: ctx, index: ticketRingIndex)
    else { return -1 }
    let keys = ring.current
    if encrypt == 1 {
        guard let key = keys.first else { return 0 }  // no key configured: send no ticket
        let cipher = key.aesKey.count == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc()
        guard RAND_bytes(iv, Int(EVP_CIPHER_iv_length(cipher))) == 1,
            EVP_EncryptInit_ex(cipherCtx, cipher, nil, key.aesKey, iv) == 1,
            HMAC_Init_ex(hmacCtx, key.hmacKey, key.hmacKey.count, EVP_sha256(), nil) == 1
        else { return -1 }
        key.name.withUnsafeBufferPointer { _ = memcpy(keyName, $0.baseAddress!, 16) }
        return 1
    } else {
        let name = UnsafeBufferPointer(start: keyName, count: 16)
        guard let i = keys.firstIndex(where: { $0.name.elementsEqual(name) }) else {
            return 0  // unknown key: full handshake, no error
        }
        let key = keys[i]
        let cipher = key.aesKey.count == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc()
        guard HMAC_Init_ex(hmacCtx, key.hmacKey, key.hmacKey.count, EVP_sha256(), nil) == 1,
            EVP_DecryptInit_ex(cipherCtx, cipher, nil, key.aesKey, iv) == 1
        else { return -1 }
        return i == 0 ? 1 : 2  // a ticket under an older key is accepted and re-issued under the current one
    }
}

extension NIOSSLContext {
    /// Rotating, shared ticket keys: installs `ring` with SSL_CTX_set_tlsext_ticket_key_cb. Call once,
    /// right after creating the context and before it serves a connection; later rotations go through
    /// `ring.setKeys`. Works for TLS 1.2 and 1.3 tickets.
    func installTicketKeyRing(_ ring: TicketKeyRing) throws {
        let ctx = try unsafeBoringSSLContext()
        try ExDataSlot.store(ring, in: ctx, index: ticketRingIndex)
        _ = SSL_CTX_set_tlsext_ticket_key_cb(ctx) { ticketKeyCallback(ssl: $0, keyName: $1, iv: $2, cipherCtx: $3, hmacCtx: $4, encrypt: $5) }
    }
}
