extension CompressionPolicy {
    /// Which codings are enabled, at which levels, and for which responses.
    public struct Configuration: Sendable, Hashable {
        /// The gzip level, 1 (fastest) to 9 (smallest); nil turns gzip off.
        public var gzipLevel: Int?
        /// The brotli quality, 0 (fastest) to 11 (smallest); nil turns brotli off.
        public var brotliQuality: Int?
        /// Bodies known to be shorter than this many bytes are sent as they are.
        public var minimumLength: Int
        /// Media types to compress.
        public var contentTypes: [MediaTypePattern]
        /// Media types never to compress, even when ``contentTypes`` names them less specifically.
        public var excludedContentTypes: [MediaTypePattern]

        /// Text-like types that compress well: markup, scripts, styles, JSON and XML, SVG, WebAssembly and the
        /// uncompressed font formats.
        public static let defaultContentTypes: [MediaTypePattern] = patterns(
            "text/*", "application/json", "application/*+json", "application/javascript",
            "application/x-javascript", "application/xml", "application/*+xml", "application/manifest+json",
            "application/wasm", "image/svg+xml", "font/ttf", "font/otf"
        )

        /// Types whose bytes are already compressed, so that gzip or brotli only costs CPU: images (except SVG,
        /// which ``defaultContentTypes`` names more specifically), audio, video, archives, WOFF fonts and opaque
        /// binary data.
        public static let defaultExcludedContentTypes: [MediaTypePattern] = patterns(
            "image/*", "video/*", "audio/*", "font/woff", "font/woff2", "application/zip", "application/gzip",
            "application/x-gzip", "application/x-7z-compressed", "application/x-bzip2", "application/x-xz",
            "application/x-rar-compressed", "application/vnd.rar", "application/zstd", "application/octet-stream"
        )

        /// The default levels trade a little size for a lot of CPU, since compression runs on the event loop.
        /// Measured with compression-bench on 100 KiB of JavaScript: gzip 5 (Caddy's default) gives 30.1% of the
        /// input in 2.6 ms, where gzip 6 (zlib's) gives 29.8% in 4.0 ms and gzip 1 (nginx's) 35.7% in 1.4 ms.
        /// Brotli 5 costs what gzip 5 costs and gives 28.5%; brotli 4 only matches gzip's size (30.3%, in 1.6 ms),
        /// and brotli 6 (ngx_brotli's default) adds 30% of time for 0.3 points.
        ///
        /// - Parameters:
        ///   - gzipLevel: 1...9, or nil for no gzip.
        ///   - brotliQuality: 0...11, or nil for no brotli. Above 6 it is too slow for on-the-fly use: a 16 KiB
        ///     piece costs more than 1 ms at 7, and quality 11 runs at about 1 MB/s.
        ///   - minimumLength: bodies known to be shorter are sent as they are.
        public init(
            gzipLevel: Int? = 5,
            brotliQuality: Int? = 5,
            minimumLength: Int = 256,
            contentTypes: [MediaTypePattern] = Configuration.defaultContentTypes,
            excludedContentTypes: [MediaTypePattern] = Configuration.defaultExcludedContentTypes
        ) {
            precondition(gzipLevel.map { (1...9).contains($0) } ?? true, "gzip level \(gzipLevel!) is not in 1...9")
            precondition(
                brotliQuality.map { (0...11).contains($0) } ?? true,
                "brotli quality \(brotliQuality!) is not in 0...11"
            )
            self.gzipLevel = gzipLevel
            self.brotliQuality = brotliQuality
            self.minimumLength = minimumLength
            self.contentTypes = contentTypes
            self.excludedContentTypes = excludedContentTypes
        }

        /// The enabled codings, in the server's order of preference.
        public var codings: [ContentCoding] {
            var codings: [ContentCoding] = []
            if brotliQuality != nil { codings.append(.brotli) }
            if gzipLevel != nil { codings.append(.gzip) }
            return codings
        }

        /// A compressor for `coding` at the configured level, sized for a body of `expectedLength` bytes when
        /// known; nil for identity or a coding that is off.
        public func makeCompressor(for coding: ContentCoding, expectedLength: Int?) -> (any StreamingCompressor)? {
            switch coding {
            case .gzip:
                gzipLevel.map { GzipCompressor(level: $0, expectedLength: expectedLength) }
            case .brotli:
                brotliQuality.map { BrotliCompressor(quality: $0, expectedLength: expectedLength) }
            case .identity:
                nil
            }
        }

        /// The one-call encoder for a whole body in `coding` (gzip through libdeflate, ``WholeGzip``), or nil when
        /// the coding has none (brotli, identity) or is off: then a ``StreamingCompressor`` does the whole body too.
        public func makeWholeEncoder(for coding: ContentCoding) -> WholeEncoder? {
            guard coding == .gzip, let level = gzipLevel else { return nil }
            return { WholeGzip.compress($0, level: level, allocator: $1) }
        }

        private static func patterns(_ texts: String...) -> [MediaTypePattern] {
            texts.map { MediaTypePattern($0)! }
        }
    }
}
