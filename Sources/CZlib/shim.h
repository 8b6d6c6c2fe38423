// Debian's zlib1g-dev (1.2.13): deflate and inflate with a gzip wrapper (RFC 1952) or raw (RFC 1951).
#include <zlib.h>

// deflateInit2 and inflateInit2 are macros that pass ZLIB_VERSION and sizeof(z_stream), which Swift cannot
// import; these wrappers make the same calls.

/// A gzip deflate stream: `windowBits` 9...15 (the gzip wrapper is added here), `memLevel` 1...9, default strategy.
static inline int CZlib_deflateInitGzip(z_streamp stream, int level, int windowBits, int memLevel) {
    return deflateInit2(stream, level, Z_DEFLATED, windowBits + 16, memLevel, Z_DEFAULT_STRATEGY);
}

/// An inflate stream that reads a gzip wrapper only (`windowBits` + 16), so a zlib or raw stream is an error.
static inline int CZlib_inflateInitGzip(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits + 16);
}

/// A raw deflate stream (RFC 1951, no zlib or gzip wrapper) for permessage-deflate (RFC 7692 §7.2):
/// `windowBits` 9...15 (zlib rejects 8 for a raw stream), `memLevel` 1...9, default strategy.
static inline int CZlib_deflateInitRaw(z_streamp stream, int level, int windowBits, int memLevel) {
    return deflateInit2(stream, level, Z_DEFLATED, -windowBits, memLevel, Z_DEFAULT_STRATEGY);
}

/// A raw inflate stream (RFC 1951, no wrapper): `windowBits` 8...15, at least the window the peer compressed with.
static inline int CZlib_inflateInitRaw(z_streamp stream, int windowBits) {
    return inflateInit2(stream, -windowBits);
}
