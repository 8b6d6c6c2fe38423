internal import Foundation
#if canImport(Glibc)
internal import Glibc
#endif
internal import MeridianConfig
internal import MeridianCore
internal import NIOCore

/// Finds and opens the file for a request path. Blocking (stat, open, realpath, read): it runs on
/// the I/O thread pool, never on an event loop, and only when the metadata cache misses.
struct FileResolver: Sendable {
    /// The document root with symlinks resolved, no trailing slash.
    let root: String
    let action: Configuration.StaticAction
    let allocator = ByteBufferAllocator()

    init(root: String, action: Configuration.StaticAction) {
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        if realpath(root, &resolved) != nil {
            self.root = Self.string(resolved)
        } else {
            self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        }
        self.action = action
    }

    func resolve(segments: [String], trailingSlash: Bool) -> FileResolution {
        let uri = segments.joined(separator: "/")
        let candidates = action.tryFiles.isEmpty ? ["$uri"] : action.tryFiles
        for candidate in candidates {
            switch candidate {
            case "$uri":
                switch kind(uri) {
                case .regular: return open(uri)
                case .directory:
                    if !trailingSlash && !uri.isEmpty { return .directoryRedirect }
                    if let index = findIndex(in: uri) { return index }
                case .missing: break
                }
            case "$uri/":
                if case .directory = kind(uri) {
                    if !trailingSlash && !uri.isEmpty { return .directoryRedirect }
                    if let index = findIndex(in: uri) { return index }
                }
            default:
                if candidate.hasPrefix("="), let code = Int(candidate.dropFirst()) { return .status(code) }
                let fixed = candidate.split(separator: "/").joined(separator: "/")
                switch kind(fixed) {
                case .regular: return open(fixed)
                case .directory: if let index = findIndex(in: fixed) { return index }
                case .missing: break
                }
            }
        }
        return .notFound
    }

    private enum Kind { case regular, directory, missing }

    private func fullPath(_ relative: String) -> String {
        relative.isEmpty ? root : root + "/" + relative
    }

    private func kind(_ relative: String) -> Kind {
        var st = Glibc.stat()
        guard fstatat(AT_FDCWD, fullPath(relative), &st, 0) == 0 else { return .missing }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        default: return .missing
        }
    }

    private func findIndex(in directory: String) -> FileResolution? {
        for name in action.index {
            let candidate = directory.isEmpty ? name : directory + "/" + name
            if case .regular = kind(candidate) { return open(candidate) }
        }
        return nil
    }

    /// Opens the file and its precompressed siblings, enforcing the symlink policy.
    private func open(_ relative: String) -> FileResolution {
        let path = fullPath(relative)
        if !action.followSymlinksOutsideRoot && !isInsideRoot(path) { return .forbidden }
        guard let entry = openEntry(path, etagSuffix: "") else { return .notFound }
        var variants: [(coding: String, entry: FileEntry)] = []
        for coding in action.precompressed {
            let suffix = coding == "br" ? ".br" : ".gz"
            let siblingPath = path + suffix
            if !action.followSymlinksOutsideRoot && !isInsideRoot(siblingPath) { continue }
            if let sibling = openEntry(siblingPath, etagSuffix: coding == "br" ? "-br" : "-gz") {
                variants.append((coding, sibling))
            }
        }
        let type = MIMETypes.type(forPath: Substring(relative))
        let vary = !variants.isEmpty
        func representation(_ e: FileEntry, _ coding: String?) -> Representation {
            Representation(entry: e, coding: coding, contentType: type, lastModified: entry.lastModified, vary: vary, cacheControl: action.cacheControl)
        }
        return .file(
            representation(entry, nil), variants: variants.map { representation($0.entry, $0.coding) }, contentType: type,
            modified: entry.modified
        )
    }

    static func string(_ chars: [CChar]) -> String {
        let bytes = chars.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func isInsideRoot(_ path: String) -> Bool {
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard realpath(path, &resolved) != nil else { return true }  // missing: open() will say so
        let real = Self.string(resolved)
        return real == root || real.hasPrefix(root == "/" ? "/" : root + "/")
    }

    private func openEntry(_ path: String, etagSuffix: String) -> FileEntry? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return nil
        }
        let size = Int(st.st_size)
        let modified = Int(st.st_mtim.tv_sec)
        if size <= action.memoryCacheMaxFileSize {
            var buffer = allocator.buffer(capacity: size)
            var offset = 0
            while offset < size {
                let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size - offset) { ptr in
                    max(0, pread(fd, ptr.baseAddress, size - offset, off_t(offset)))
                }
                if n == 0 { break }
                offset += n
            }
            close(fd)
            guard offset == size else { return nil }
            return FileEntry(path: path, size: size, modified: modified, inode: UInt64(st.st_ino), etagSuffix: etagSuffix, content: buffer, handle: nil, descriptor: -1)
        }
        return FileEntry(
            path: path, size: size, modified: modified, inode: UInt64(st.st_ino), etagSuffix: etagSuffix, content: nil,
            handle: NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd), descriptor: fd
        )
    }
}
