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

    /// 80 random bytes (RAND_bytes): a new key in nginx's format.
    static func randomBytes() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: TicketKeySchedule.keyLength)
        precondition(RAND_bytes(&bytes, bytes.count) == 1, "RAND_bytes failed")
        return bytes
    }

    init(file path: String) throws {
        guard let f = fopen(path, "rb") else { throw TLSExtensionError(description: "cannot open \(path)") }
        defer { fclose(f) }
        var buf = [UInt8](repeating: 0, count: 81)
        let n = fread(&buf, 1, 81, f)
        try self.init(nginxFormat: Array(buf[0..<n]))
    }
}

/// The keys of one listener: `keys[encrypting]` encrypts new tickets, every key decrypts (current + previous
/// ones during rotation, like several `ssl_session_ticket_key` lines in nginx; with generated keys also the next
/// one, see `TicketKeySchedule`). Replace them at any time with `setKeys`; handshakes read them under a lock.
final class TicketKeyRing: Sendable {
    struct Keys: Sendable {
        var keys: [TicketKey]
        var encrypting: Int
    }
    private let state: NIOLockedValueBox<Keys>

    init(_ keys: [TicketKey], encrypting: Int = 0) { self.state = NIOLockedValueBox(Keys(keys: keys, encrypting: encrypting)) }
    func setKeys(_ keys: [TicketKey], encrypting: Int = 0) { state.withLockedValue { $0 = Keys(keys: keys, encrypting: encrypting) } }
    var current: Keys { state.withLockedValue { $0 } }
}

/// BoringSSL's defaults (SSL_DEFAULT_SESSION_TIMEOUT, SSL_DEFAULT_SESSION_PSK_DHE_TIMEOUT in ssl/internal.h).
private let boringSSLDefaultTLS12Lifetime: UInt32 = 2 * 60 * 60
private let boringSSLDefaultTLS13Lifetime: UInt32 = 2 * 24 * 60 * 60

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
    let (keys, encrypting) = { let k = ring.current; return (k.keys, k.encrypting) }()
    if encrypt == 1 {
        guard keys.indices.contains(encrypting) else { return 0 }  // no key: send no ticket
        let key = keys[encrypting]
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
        return i == encrypting ? 1 : 2  // a ticket under another key is accepted and re-issued under the current one
    }
}

extension NIOSSLContext {
    /// Rotating, shared ticket keys: installs `ring` with SSL_CTX_set_tlsext_ticket_key_cb. Call once,
    /// right after creating the context and before it serves a connection; later rotations go through
    /// `ring.setKeys`. Works for TLS 1.2 and 1.3 tickets. `lifetime`, when given, lowers the sessions'
    /// lifetime (TLS 1.2: BoringSSL's 2 h default; TLS 1.3: 2 days) to how long a ticket stays decryptable,
    /// so clients are not told to keep tickets that no instance can open any more.
    func installTicketKeyRing(_ ring: TicketKeyRing, lifetime: Duration? = nil) throws {
        let ctx = try unsafeBoringSSLContext()
        if let lifetime {
            let seconds = UInt32(clamping: lifetime.components.seconds)
            if seconds < boringSSLDefaultTLS12Lifetime { _ = SSL_CTX_set_timeout(ctx, seconds) }
            if seconds < boringSSLDefaultTLS13Lifetime { SSL_CTX_set_session_psk_dhe_timeout(ctx, seconds) }
        }
        try ExDataSlot.store(ring, in: ctx, index: ticketRingIndex)
        _ = SSL_CTX_set_tlsext_ticket_key_cb(ctx) { ticketKeyCallback(ssl: $0, keyName: $1, iv: $2, cipherCtx: $3, hmacCtx: $4, encrypt: $5) }
    }
}

extension NIOSSLContext {
    /// No session tickets at all (SSL_OP_NO_TICKET): TLS 1.2 sends none, TLS 1.3 sends no NewSessionTicket.
    func disableSessionTickets() throws {
        let ctx = try unsafeBoringSSLContext()
        _ = SSL_CTX_set_options(ctx, UInt32(SSL_OP_NO_TICKET))
    }
}
