internal import MeridianCore
public import NIOCore
internal import NIOHTTP1

/// One file ready to send: its metadata, its validators, and either its bytes (small files) or an
/// open descriptor (large ones). Shared by every request for it until the cache lets it go.
public final class FileEntry: Sendable {
    public let path: String
    public let size: Int
    public let modified: Int
    public let inode: UInt64
    /// Strong entity tag: `"<mtime hex>-<size hex>"` (plus `-br`/`-gz` for precompressed siblings).
    public let etag: String
    public let lastModified: String
    /// Small files are held in memory and leave in one write with their head.
    public let content: ByteBuffer?
    let handle: NIOFileHandle?
    let descriptor: CInt

    init(path: String, size: Int, modified: Int, inode: UInt64, etagSuffix: String, content: ByteBuffer?, handle: NIOFileHandle?, descriptor: CInt) {
        self.path = path
        self.size = size
        self.modified = modified
        self.inode = inode
        self.etag = "\"\(String(modified, radix: 16))-\(String(size, radix: 16))\(etagSuffix)\""
        self.lastModified = DateCache.format(epochSeconds: modified)
        self.content = content
        self.handle = handle
        self.descriptor = descriptor
    }

    deinit {
        try? handle?.close()
    }

    /// The bytes `range` of the file as a response body part.
    func body(_ range: ClosedRange<Int>) -> ResponseBodyPart {
        if let content {
            return .buffer(content.getSlice(at: content.readerIndex + range.lowerBound, length: range.count)!)
        }
        return .file(FileSlice(handle: handle!, descriptor: descriptor, offset: range.lowerBound, length: range.count, owner: self))
    }

    var wholeBody: ResponseBody {
        if size == 0 { return .empty }
        switch body(0...(size - 1)) {
        case .buffer(let b): return .buffer(b)
        case .file(let f): return .file(f)
        }
    }
}

/// What a request path resolved to on disk.
public enum FileResolution: Sendable {
    /// A file with its precompressed siblings, keyed by coding (`br`, `gzip`).
    case file(FileEntry, variants: [(coding: String, entry: FileEntry)], contentType: String)
    /// A directory asked for without its trailing slash.
    case directoryRedirect
    case notFound
    /// A symlink pointing outside the root, refused by policy.
    case forbidden
    /// `=CODE` at the end of `try_files`.
    case status(Int)
}
