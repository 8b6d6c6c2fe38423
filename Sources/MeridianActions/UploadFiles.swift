#if canImport(Glibc)
internal import Glibc
#endif
internal import MeridianCore
internal import NIOConcurrencyHelpers
internal import NIOCore
internal import NIOHTTP1

/// The file-system half of the upload action. Every method blocks (open, write, rename): they run
/// on the I/O thread pool, never on an event loop.
struct UploadFiles: Sendable {
    /// The upload root with symlinks resolved, no trailing slash.
    let root: String

    init(root: String) {
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        if realpath(root, &resolved) != nil {
            self.root = String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        } else {
            self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        }
    }

    /// Where a body goes: a directory under the root (as path segments) and a file name.
    struct Target: Sendable {
        var directory: [String]
        var name: String
        /// POST to a collection: the name was made here.
        var generated: Bool
    }

    /// Answered 409 Conflict (412 when `If-None-Match: *` lost a race).
    struct Conflict: Error {
        var reason: String
        var status: HTTPResponseStatus = .conflict
    }

    enum Preparation: Sendable {
        case ready(TempFile)
        case refused(Response)
    }

    /// A temporary file in the target's directory (same file system, so the rename is atomic),
    /// named as a dotfile so static routes never serve it.
    final class TempFile: Sendable {
        let path: String
        let directory: String
        let descriptor: CInt
        /// Closed once only: a descriptor number closed twice may by then be another upload's
        /// file or a client's socket.
        private let open = NIOLockedValueBox(true)

        init(path: String, directory: String, descriptor: CInt) {
            self.path = path
            self.directory = directory
            self.descriptor = descriptor
        }

        func closeOnce() {
            let wasOpen = open.withLockedValue { isOpen in
                defer { isOpen = false }
                return isOpen
            }
            if wasOpen { close(descriptor) }
        }

        func write(_ bytes: ByteBuffer, at offset: Int) throws {
            var written = 0
            try bytes.withUnsafeReadableBytes { raw in
                while written < raw.count {
                    let n = pwrite(descriptor, raw.baseAddress! + written, raw.count - written, off_t(offset + written))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw IOError(errnoCode: errno, reason: "pwrite")
                    }
                    written += n
                }
            }
        }
    }

    static func generatedName() -> String {
        var rng = SystemRandomNumberGenerator()
        let n = rng.next() as UInt64
        let hex = String(n, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Checks the target (its directory exists inside the root, no symlink leads out, an existing
    /// file may be replaced) and opens the temporary file.
    func prepare(_ target: Target, overwrite: Bool, createDirectories: Bool, ifNoneMatchAny: Bool) throws -> Preparation {
        var directory = root
        for segment in target.directory {
            directory += "/" + segment
            var st = stat()
            if lstat(directory, &st) != 0 {
                guard errno == ENOENT, createDirectories else {
                    return .refused(.text(.conflict, "409 Conflict: the parent directory does not exist\n"))
                }
                if mkdir(directory, 0o755) != 0 && errno != EEXIST { throw IOError(errnoCode: errno, reason: "mkdir") }
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                guard inside(directory) else { return .refused(.text(.forbidden, "403 Forbidden: the path leaves the upload root\n")) }
                if stat(directory, &st) != 0 { return .refused(.text(.conflict, "409 Conflict: the parent directory does not exist\n")) }
            }
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                return .refused(.text(.conflict, "409 Conflict: \(segment) is a file, not a directory\n"))
            }
        }
        let final = directory + "/" + target.name
        var st = stat()
        if lstat(final, &st) == 0 {
            if ifNoneMatchAny { return .refused(.text(.preconditionFailed, "412 Precondition Failed: the file exists\n")) }
            if (st.st_mode & S_IFMT) == S_IFLNK { return .refused(.text(.forbidden, "403 Forbidden: the target is a symbolic link\n")) }
            if (st.st_mode & S_IFMT) != S_IFREG { return .refused(.text(.conflict, "409 Conflict: the target is not a regular file\n")) }
            if !overwrite { return .refused(.text(.conflict, "409 Conflict: the file exists and this route does not overwrite\n")) }
        }
        let tempPath = directory + "/.upload-" + Self.generatedName() + ".part"
        let fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 { throw IOError(errnoCode: errno, reason: "open") }
        return .ready(TempFile(path: tempPath, directory: directory, descriptor: fd))
    }

    /// Moves the finished file into place; answers whether it replaced one. Without `overwrite`
    /// the move is a `link` (which fails if the name appeared meanwhile, so two uploads of one
    /// name cannot both win), with it a `rename` (atomic replace).
    func commit(_ temp: TempFile, to target: Target, overwrite: Bool, ifNoneMatchAny: Bool) throws -> Bool {
        temp.closeOnce()
        let final = temp.directory + "/" + target.name
        if overwrite && !ifNoneMatchAny {
            var st = stat()
            let existed = lstat(final, &st) == 0
            if rename(temp.path, final) != 0 {
                let code = errno
                unlink(temp.path)
                throw IOError(errnoCode: code, reason: "rename")
            }
            return existed
        }
        if link(temp.path, final) != 0 {
            let code = errno
            unlink(temp.path)
            if code == EEXIST {
                // `If-None-Match: *` asked for exactly this not to happen (RFC 9110 §13.1.2).
                throw Conflict(reason: "the file was created meanwhile", status: ifNoneMatchAny ? .preconditionFailed : .conflict)
            }
            throw IOError(errnoCode: code, reason: "link")
        }
        unlink(temp.path)
        return false
    }

    /// Removes the temporary file of an upload that did not complete.
    func discard(_ temp: TempFile) {
        temp.closeOnce()
        unlink(temp.path)
    }

    private func inside(_ path: String) -> Bool {
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard realpath(path, &resolved) != nil else { return false }
        let real = String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return real == root || real.hasPrefix(root == "/" ? "/" : root + "/")
    }
}
