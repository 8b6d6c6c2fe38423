// CNIOBoringSSL is swift-nio-ssl's vendored BoringSSL: a target of that package, not a product. SwiftPM passes
// the module maps of every C target in the graph, so it imports; see NIOSSLContext+BoringSSL.swift for why it is used.
internal import CNIOBoringSSL
internal import NIOSSL

/// Thrown when the `SSL_CTX *` behind a `NIOSSLContext` cannot be found or does not check out.
/// Meant to stop startup: a swift-nio-ssl update changed what this code relies on.
struct TLSExtensionError: Error, CustomStringConvertible {
    let description: String
}

extension NIOSSLContext {
    /// The BoringSSL `SSL_CTX *` this context wraps.
    ///
    /// swift-nio-ssl 2.37.6 keeps it in `fileprivate let sslContext: OpaquePointer`
    /// (Sources/NIOSSL/SSLContext.swift:309) and exposes no public accessor, so it is read with
    /// `Mirror`. The result is then verified independently of the reflection: swift-nio-ssl stores
    /// `Unmanaged.passUnretained(self)` as the SSL_CTX's app data, ex_data index 0
    /// (SSLContext.swift:489-490, `CNIOBoringSSLShims_SSL_CTX_set_app_data`). Only a pointer that is
    /// this context's own SSL_CTX can hold that value.
    ///
    /// Throws (never traps) when the stored property is gone, renamed or retyped, when reflection
    /// metadata is stripped (`-disable-reflection-metadata`), or when the check fails.
    func unsafeBoringSSLContext() throws -> OpaquePointer {
        let mirror = Mirror(reflecting: self)
        let children = Array(mirror.children)
        let matches = children.filter { $0.label == "sslContext" }.compactMap { $0.value as? OpaquePointer }
        guard matches.count == 1, let ctx = matches.first else {
            let seen = children.map { "\($0.label ?? "?"): \(type(of: $0.value))" }.joined(separator: ", ")
            throw TLSExtensionError(
                description: "NIOSSLContext has no stored 'sslContext: OpaquePointer' (reflected fields: [\(seen)]); "
                    + "swift-nio-ssl changed, TLS session-ticket keys / OCSP stapling cannot be installed"
            )
        }
        try Self.verify(ctx, belongsTo: self)
        return ctx
    }

    /// The independent check: NIOSSL's SSL_CTX app data (ex_data 0) must be this very object.
    static func verify(_ ctx: OpaquePointer, belongsTo owner: NIOSSLContext) throws {
        let expected = Unmanaged.passUnretained(owner).toOpaque()
        guard SSL_CTX_get_ex_data(ctx, 0) == expected else {
            throw TLSExtensionError(
                description: "NIOSSLContext.sslContext does not point back to its NIOSSLContext (app data mismatch); "
                    + "swift-nio-ssl changed, refusing to touch it"
            )
        }
    }
}

/// Stores a retained Swift object in an SSL_CTX ex_data slot; it is released when the SSL_CTX is freed
/// (NIOSSLContext.deinit calls SSL_CTX_free, SSLContext.swift:573-575).
enum ExDataSlot {
    static func newIndex() -> Int32 {
        SSL_CTX_get_ex_new_index(0, nil, nil, nil) { _, ptr, _, _, _, _ in
            if let ptr { Unmanaged<AnyObject>.fromOpaque(ptr).release() }
        }
    }

    static func store(_ object: AnyObject, in ctx: OpaquePointer, index: Int32) throws {
        if let old = SSL_CTX_get_ex_data(ctx, index) {
            // Replacing: drop the previous owner's reference.
            Unmanaged<AnyObject>.fromOpaque(old).release()
        }
        let ptr = Unmanaged.passRetained(object).toOpaque()
        guard SSL_CTX_set_ex_data(ctx, index, ptr) == 1 else {
            Unmanaged<AnyObject>.fromOpaque(ptr).release()
            throw TLSExtensionError(description: "SSL_CTX_set_ex_data failed")
        }
    }

    static func load<T: AnyObject>(_ type: T.Type, from ctx: OpaquePointer, index: Int32) -> T? {
        guard let raw = SSL_CTX_get_ex_data(ctx, index) else { return nil }
        return Unmanaged<AnyObject>.fromOpaque(raw).takeUnretainedValue() as? T
    }
}
