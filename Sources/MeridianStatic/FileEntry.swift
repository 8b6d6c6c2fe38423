internal import MeridianCore
public import NIOCore
public import NIOHTTP1

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
        if let content { return .buffer(content) }
        return .file(FileSlice(handle: handle!, descriptor: descriptor, offset: 0, length: size, owner: self))
    }
}

/// One way to send a file (identity, or a precompressed sibling) with its 200 response headers
/// built once, off the event loop, so a cache hit copies them without allocating.
public final class Representation: Sendable {
    public let entry: FileEntry
    /// `br` or `gzip`; nil for the file itself.
    public let coding: String?
    public let headers: HTTPHeaders

    init(entry: FileEntry, coding: String?, contentType: String, lastModified: String, vary: Bool, cacheControl: String?) {
        self.entry = entry
        self.coding = coding
        var headers = HTTPHeaders()
        headers.reserveCapacity(7)
        headers.add(name: "content-type", value: contentType)
        if vary { headers.add(name: "vary", value: "Accept-Encoding") }
        if let coding { headers.add(name: "content-encoding", value: coding) }
        headers.add(name: "etag", value: entry.etag)
        headers.add(name: "last-modified", value: lastModified)
        if let cacheControl { headers.add(name: "cache-control", value: cacheControl) }
        headers.add(name: "accept-ranges", value: "bytes")
        self.headers = headers
    }
}

/// What a request path resolved to on disk.
public enum FileResolution: Sendable {
    /// A file with its precompressed siblings in preference order.
    case file(Representation, variants: [Representation], contentType: String, modified: Int)
    /// A directory asked for without its trailing slash.
    case directoryRedirect
    case notFound
    /// A symlink pointing outside the root, refused by policy.
    case forbidden
    /// `=CODE` at the end of `try_files`.
    case status(Int)
}
