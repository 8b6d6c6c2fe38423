#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Byte searches for the head parsers (the client's request heads, the upstreams' response heads).
package enum ByteScan {
    /// The offset of the first `byte` in `raw`, by memchr: vectorised, where `firstIndex(of:)` over a buffer slice
    /// is a byte loop (~1% of a proxied request's CPU for each of the two heads it parses).
    package static func first(_ byte: UInt8, in raw: UnsafeRawBufferPointer) -> Int? {
        guard let base = raw.baseAddress, raw.count > 0, let found = memchr(base, Int32(byte), raw.count) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }
}
