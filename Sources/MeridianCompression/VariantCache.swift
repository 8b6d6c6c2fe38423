public import Atomics
internal import CFileIO
internal import NIOConcurrencyHelpers
public import NIOCore
#if canImport(Glibc)
internal import Glibc
#endif

/// Compressed variants of static files, so a hot file is compressed once: keyed by the path, the ETag (which the
/// static action derives from the file's identity, size and modification time, so an edited file is a new key) and
/// the coding; bounded in bytes (least recently used out first). One per process, shared by the loops.
public final class VariantCache: Sendable {
    public struct Key: Hashable, Sendable {
        public var path: String
        public var etag: String
        public var length: Int
        public var coding: ContentCoding
    }

    private struct State {
        var entries: [Key: (body: ByteBuffer, used: UInt64)] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())
    public let maxBytes: Int
    /// A file larger than this is compressed per request and not kept.
    public let maxEntryInput: Int

    public init(maxBytes: Int = 64 << 20, maxEntryInput: Int = 8 << 20) {
        self.maxBytes = maxBytes
        self.maxEntryInput = maxEntryInput
    }

    func accepts(length: Int) -> Bool { maxBytes > 0 && length <= maxEntryInput }

    func get(_ key: Key) -> ByteBuffer? {
        state.withLockedValue { s in
            guard let entry = s.entries[key] else { return nil }
            s.clock &+= 1
            s.entries[key]?.used = s.clock
            return entry.body
        }
    }

    func put(_ key: Key, _ body: ByteBuffer) {
        guard body.readableBytes <= maxBytes else { return }
        state.withLockedValue { s in
            if let old = s.entries[key] { s.bytes -= old.body.readableBytes }
            s.clock &+= 1
            s.entries[key] = (body, s.clock)
            s.bytes += body.readableBytes
            while s.bytes > maxBytes, let oldest = s.entries.min(by: { $0.value.used < $1.value.used }) {
                s.bytes -= oldest.value.body.readableBytes
                s.entries[oldest.key] = nil
            }
        }
    }

    /// Entries and bytes held now.
    public var usage: (entries: Int, bytes: Int) { state.withLockedValue { ($0.entries.count, $0.bytes) } }
}

/// Bytes in and out and time spent, per coding, for `/metrics`.
public final class CompressionStats: Sendable {
    public final class Counters: Sendable {
        public let bytesIn = ManagedAtomic<Int>(0)
        public let bytesOut = ManagedAtomic<Int>(0)
        public let nanoseconds = ManagedAtomic<Int>(0)
        public let responses = ManagedAtomic<Int>(0)
        public let cacheHits = ManagedAtomic<Int>(0)

        func record(in input: Int, out output: Int, since started: NIODeadline) {
            bytesIn.wrappingIncrement(by: input, ordering: .relaxed)
            bytesOut.wrappingIncrement(by: output, ordering: .relaxed)
            nanoseconds.wrappingIncrement(by: Int((NIODeadline.now() - started).nanoseconds), ordering: .relaxed)
        }
    }

    public let gzip = Counters()
    public let brotli = Counters()

    public init() {}

    func counters(_ coding: ContentCoding) -> Counters {
        coding == .brotli ? brotli : gzip
    }
}

/// Positional reads for the compressed file variants: from the page cache on the event loop, the rest on the thread pool.
enum FileReader {
    /// Reads what the page cache holds of `buffer.count` bytes at `offset` without waiting for the disk (preadv2
    /// `RWF_NOWAIT`); the bytes read, from 0 (nothing cached, or a kernel or file system that cannot tell: EAGAIN,
    /// EOPNOTSUPP, ENOSYS, EINVAL) to `buffer.count`. Errors are left to ``pread(_:into:at:)``, which reads the rest.
    static func preadCached(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var done = 0
        while done < buffer.count {
            let r = CFileIO_preadCached(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { break }
            done += r
        }
        return done
    }

    /// Reads up to `buffer.count` bytes at `offset`, retrying on EINTR and short reads; the bytes read.
    static func pread(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        var done = 0
        while done < buffer.count {
            let r = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if r < 0 {
                if errno == EINTR { continue }
                throw IOError(errnoCode: errno, reason: "pread")
            }
            if r == 0 { break }
            done += r
        }
        return done
    }
}
