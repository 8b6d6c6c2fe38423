extension Configuration {
    /// `compression:` at the top (every route) and on a route (that route): gzip and brotli on the fly.
    public struct Compression: Sendable, Equatable {
        public var enabled: Bool
        /// Offered in this order of preference at equal q-values (`br`, `gzip`).
        public var encodings: [String]
        /// zlib level, 1 (fast) to 9 (small). nginx's `gzip_comp_level` default is 1; 6 is zlib's own default and
        /// gzip(1)'s.
        public var gzipLevel: Int
        /// Brotli quality, 0 to 11. 5 is the on-the-fly sweet spot (smaller than gzip 6, about as fast); 11 is
        /// for precompressed files.
        public var brotliLevel: Int
        /// Bodies shorter than this are sent as they are (a known length only; streams are compressed).
        public var minLength: Int
        /// Media types compressed (`text/*` matches every text type; parameters are ignored).
        public var types: [String]
        /// Keep static files' compressed variants (compress a hot file once); false compresses per request.
        public var cache: Bool = true

        public static let defaultTypes = [
            "text/*", "application/json", "application/*+json", "application/javascript", "application/x-javascript",
            "application/xml", "application/*+xml", "application/wasm", "application/manifest+json", "image/svg+xml",
            "font/ttf", "font/otf", "application/vnd.ms-fontobject",
        ]

        public init(
            enabled: Bool = false, encodings: [String] = ["br", "gzip"], gzipLevel: Int = 6, brotliLevel: Int = 5, minLength: Int = 256,
            types: [String] = Compression.defaultTypes
        ) {
            self.enabled = enabled
            self.encodings = encodings
            self.gzipLevel = gzipLevel
            self.brotliLevel = brotliLevel
            self.minLength = minLength
            self.types = types
        }
    }
}
